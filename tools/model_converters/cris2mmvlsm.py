# Copyright (c) OpenMMLab. All rights reserved.
"""Convert a checkpoint of the official CRIS code to mmvlsm's CRIS.

    python tools/model_converters/cris2mmvlsm.py SRC DST [--config CONFIG]

SRC is what CRIS.pytorch saves (a dict with ``state_dict``, often under
DataParallel, i.e. keys starting with ``module.``) or a bare state dict
(as medvlsm's ``scripts/convert_cris_model.py`` writes). Every weight is
renamed to mmvlsm's modules, then loaded into the model of CONFIG (CLIP
RN50 CRIS by default): any SRC key that is not a CRIS weight (besides the
unused CLIP ``logit_scale``), any model weight or buffer SRC lacks, and any
shape that differs is reported by name and nothing is written. DST is an
mmengine checkpoint for ``load_from`` or ``tools/test.py``.
"""
import argparse
import os.path as osp
from typing import List, Optional

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

# Importing mmvlsm also registers the safe checkpoint types.
from mmvlsm.models.utils import (UNUSED_CRIS_KEYS, cris_to_mmvlsm,
                                 load_weights_exactly,
                                 strip_data_parallel_prefix)
from mmvlsm.registry import MODELS
from mmvlsm.utils import load_from_local
from mmvlsm.utils.checkpoint import save_converted_checkpoint
from mmvlsm.utils.launch import add_cfg_options_args
from mmvlsm.utils.paths import check_not_an_input

DEFAULT_CONFIG = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    '_base_', 'models', 'cris_r50.py')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official CRIS checkpoint to mmvlsm')
    parser.add_argument('src', help='official CRIS checkpoint')
    parser.add_argument('dst', help='mmvlsm checkpoint to write')
    parser.add_argument(
        '--config',
        default=DEFAULT_CONFIG,
        help='config whose `model` the checkpoint must fill exactly '
        '(default: CLIP RN50 CRIS; use an RN101 config for RN101)')
    add_cfg_options_args(parser)
    args = parser.parse_args(argv)
    try:
        check_not_an_input(args.dst, [args.src, args.config],
                           'the converted checkpoint (DST)')
    except ValueError as err:
        parser.error(str(err))
    return args


def official_state_dict(checkpoint: object, path: str) -> dict:
    """The state dict inside a checkpoint CRIS.pytorch or medvlsm saved."""
    if isinstance(checkpoint, dict):
        for key in ('state_dict', 'model'):
            if isinstance(checkpoint.get(key), dict):
                return checkpoint[key]
        if all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            return checkpoint
    raise ValueError(f'{path} holds neither a state dict nor a dict with '
                     '"state_dict": is it a CRIS checkpoint?')


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope('mmvlsm')
    # The checkpoint holds every weight: no CLIP initialisation needed.
    cfg.model['clip_pretrained'] = None
    model = MODELS.build(cfg.model)

    state_dict = official_state_dict(
        load_from_local(args.src, 'cpu'), args.src)
    unused = [
        key for key in strip_data_parallel_prefix(state_dict)
        if key in UNUSED_CRIS_KEYS
    ]
    converted = cris_to_mmvlsm(state_dict)
    load_weights_exactly(model, converted, args.src)

    save_converted_checkpoint(args.dst, converted, args.src,
                              'tools/model_converters/cris2mmvlsm.py')
    num_params = sum(p.numel() for p in model.parameters())
    print(f'Converted {len(state_dict)} tensors of {args.src} to '
          f'{args.dst}: all {len(converted)} weights and buffers of '
          f'{cfg.model["type"]} ({num_params:,} parameters) filled; '
          f'unused: {unused or "none"}.')


if __name__ == '__main__':
    main()
