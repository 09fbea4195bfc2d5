# Copyright (c) OpenMMLab. All rights reserved.
"""Convert a checkpoint of upstream PUNet (marcdcfischer/PUNet) to mmvlsm.

    python tools/model_converters/punet2mmvlsm.py SRC DST [--config CONFIG]

SRC is what upstream's training saves (a Lightning ``.ckpt``: the student
network under ``architecture.network_student.``, the EMA teacher under
``architecture.network_teacher.``, the run's settings in
``hyper_parameters``) or a bare network state dict. The settings, where
present, are checked against the model of CONFIG (the 2D PUNet by
default) and every difference is named. Every weight is renamed to
mmvlsm's modules (see :mod:`mmvlsm.models.utils.punet_checkpoint`), the
depth axis of the 3D kernels is dropped for a 2D model, and the result is
loaded into the model: any SRC key that is not a PUNet weight, any model
weight or buffer SRC lacks, and any shape that differs is reported by name
and nothing is written. The teacher fills mmvlsm's EMA teacher when the
config builds one (``cpa_loss``) and is dropped otherwise; without a
teacher in SRC, that EMA teacher is a copy of the student, as when
training starts. DST is an mmengine checkpoint for ``load_from`` or
``tools/test.py``; it may not be SRC.
"""
import argparse
import os.path as osp
from typing import List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

# Importing mmvlsm also registers the safe checkpoint types.
from mmvlsm.models.utils import load_weights_exactly
from mmvlsm.models.utils.punet_checkpoint import (
    PUNET_TEACHER_PREFIX, architecture_differences, drop_depth_axis,
    mmvlsm_punet_architecture, punet_to_mmvlsm, split_punet_lightning,
    upstream_punet_architecture)
from mmvlsm.registry import MODELS
from mmvlsm.utils import load_from_local
from mmvlsm.utils.checkpoint import save_converted_checkpoint
from mmvlsm.utils.launch import add_cfg_options_args
from mmvlsm.utils.paths import check_not_an_input

DEFAULT_CONFIG = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    '_base_', 'models', 'punet_2d.py')
# Upstream's ``--architecture`` of PUNet (its baselines have other values).
PUNET_ARCHITECTURE = 'wip'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an upstream PUNet checkpoint to mmvlsm')
    parser.add_argument('src', help='upstream PUNet checkpoint (.ckpt)')
    parser.add_argument('dst', help='mmvlsm checkpoint to write')
    parser.add_argument(
        '--config',
        default=DEFAULT_CONFIG,
        help='config whose `model` the checkpoint must fill exactly '
        '(default: the 2D PUNet)')
    add_cfg_options_args(parser)
    args = parser.parse_args(argv)
    try:
        check_not_an_input(args.dst, [args.src, args.config],
                           'the converted checkpoint (DST)')
    except ValueError as err:
        parser.error(str(err))
    return args


def read_checkpoint(checkpoint: object, path: str) -> Tuple[dict, dict]:
    """The state dict and the hyper-parameters (empty for a bare state
    dict) of an upstream checkpoint."""
    if isinstance(checkpoint, dict):
        if isinstance(checkpoint.get('state_dict'), dict):
            return checkpoint['state_dict'], dict(
                checkpoint.get('hyper_parameters') or {})
        if checkpoint and all(
                isinstance(v, torch.Tensor) for v in checkpoint.values()):
            return checkpoint, {}
    raise ValueError(f'{path} holds neither a state dict nor a dict with '
                     '"state_dict": is it an upstream PUNet checkpoint?')


def convert(state_dict: dict, model: torch.nn.Module,
            path: str) -> Tuple[dict, List[str]]:
    """mmvlsm's state dict of an upstream one, and notes on the upstream
    keys left out."""
    student, teacher, others = split_punet_lightning(state_dict)
    if others:
        raise ValueError(f'{len(others)} keys of {path} belong to neither '
                         f'upstream network: {others[:10]}. Is this a PUNet '
                         'checkpoint?')
    two_d = model.backbone.stem.conv1.weight.dim() == 4

    def network(weights: dict) -> Tuple[dict, List[str]]:
        converted, derived = punet_to_mmvlsm(weights)
        return (drop_depth_axis(converted) if two_d else converted), derived

    converted, derived = network(student)
    notes = [
        f'{len(derived)} relative_distances buffers (derived from the '
        'window)'
    ] if derived else []
    if teacher and hasattr(model, 'teacher'):
        teacher_converted, _ = network(teacher)
        # mmvlsm's teacher has no head: the student's scores its features.
        head = [k for k in teacher_converted if k.startswith('head.')]
        converted.update({
            f'teacher.{key}': value
            for key, value in teacher_converted.items() if key not in head
        })
        notes.append(f'the teacher\'s {len(head)} head prompts '
                     f'({PUNET_TEACHER_PREFIX}instruction_pool.*)')
    elif hasattr(model, 'teacher'):
        # As when training starts: the teacher is a copy of the student.
        converted.update({
            f'teacher.{key}': value
            for key, value in converted.items()
            if key.startswith(('backbone.', 'decoder.'))
        })
    elif teacher:
        notes.append(f'the teacher ({len(teacher)} tensors; the config '
                     'builds no EMA teacher: no cpa_loss)')
    return converted, notes


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope('mmvlsm')
    model = MODELS.build(cfg.model)

    state_dict, hparams = read_checkpoint(
        load_from_local(args.src, 'cpu'), args.src)
    if hparams:
        architecture = hparams.get('architecture', PUNET_ARCHITECTURE)
        if architecture != PUNET_ARCHITECTURE:
            raise ValueError(f'{args.src} is upstream\'s "{architecture}" '
                             f'model, not PUNet ("{PUNET_ARCHITECTURE}")')
        differences = architecture_differences(
            upstream_punet_architecture(hparams),
            mmvlsm_punet_architecture(model))
        if differences:
            raise ValueError(f'{args.src} is another PUNet than the model of '
                             f'{args.config}: ' + '; '.join(differences))
    converted, notes = convert(state_dict, model, args.src)
    load_weights_exactly(model, converted, args.src)

    save_converted_checkpoint(args.dst, converted, args.src,
                              'tools/model_converters/punet2mmvlsm.py')
    num_params = sum(p.numel() for p in model.parameters())
    print(f'Converted {len(state_dict)} tensors of {args.src} to '
          f'{args.dst}: all {len(converted)} weights and buffers of '
          f'{cfg.model["type"]} ({num_params:,} parameters) filled; '
          f'dropped: {"; ".join(notes) or "none"}.')


if __name__ == '__main__':
    main()
