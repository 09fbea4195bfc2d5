# Copyright (c) OpenMMLab. All rights reserved.
"""How much each of upstream PUNet's behaviours changes the network's output.

Builds the config's PUNet with ``upstream=True`` (upstream PUNet exactly)
and random weights, then the same weights with one behaviour at a time set
back to mmvlsm's corrected default, and prints the largest change of the
logits and of the class probability over a batch of random inputs (one
active class per sample), per input size. The last row sets every
behaviour back (mmvlsm's defaults). ``configs/punet/README.md`` lists the
figures.

Example::

    python tools/analysis_tools/punet_upstream_differences.py \\
        configs/punet/punet-meta-self_1xb16-124800it_tcia-btcv-group2-256x256.py \\
        --sizes 64x64 100x76 96x80
"""
import argparse
import copy
from typing import Dict, List, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

# Importing mmvlsm registers its modules.
from mmvlsm.registry import MODELS

# option name -> (where it is set, the corrected value)
BEHAVIOURS: Dict[str, Tuple[str, object]] = {
    'kv_from_q': ('pswin', False),
    'window_layout': ('pswin', 'local'),
    'mask_mode': ('pswin', 'additive'),
    'relabel_padded_content': ('pswin', False),
    'padding': ('pswin', 'symmetric'),
    'similarity': ('head', 'scaled'),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='a PUNet config')
    parser.add_argument(
        '--sizes',
        nargs='+',
        default=['64x64', '100x76', '96x80'],
        help='input sizes HxW (HxWxD for 3D configs)')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def variant_cfg(model_cfg: dict, option: str = None) -> dict:
    """The model config with upstream=True and ``option`` (or every
    behaviour, for 'all') set back to its corrected value."""
    cfg = copy.deepcopy(model_cfg)
    cfg['upstream'] = True
    cfg.pop('cpa_loss', None)  # the teacher plays no part in the output
    names = list(BEHAVIOURS) if option == 'all' else [option] if option else []
    for name in names:
        where, value = BEHAVIOURS[name]
        parts = ('backbone', 'decoder') if where == 'pswin' else ('head', )
        for part in parts:
            cfg[part][name] = value
    return cfg


def outputs(model: torch.nn.Module, inputs: List[torch.Tensor],
            classes: torch.Tensor) -> List[torch.Tensor]:
    with torch.no_grad():
        return [model.segment(x, classes) for x in inputs]


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmvlsm'))
    torch.manual_seed(args.seed)
    reference = MODELS.build(variant_cfg(cfg.model)).eval()
    state = reference.state_dict()
    channels = cfg.model.backbone.get('in_channels', 1)
    sizes = [tuple(int(v) for v in size.split('x')) for size in args.sizes]
    inputs = [torch.randn(args.batch_size, channels, *size) for size in sizes]
    pool = len(reference.backbone.levels[0].pswin.pools[0].prompts)
    classes = torch.arange(args.batch_size)[:, None] % (pool - 1) + 1
    expected = outputs(reference, inputs, classes)
    header = ['set back to the default'
              ] + [f'{"x".join(map(str, s))} logit / prob' for s in sizes]
    print(' | '.join(header))
    for option in list(BEHAVIOURS) + ['all']:
        model = MODELS.build(variant_cfg(cfg.model, option)).eval()
        model.load_state_dict(state)
        cells = []
        for got, want in zip(outputs(model, inputs, classes), expected):
            logit = (got - want).abs().max().item()
            prob = (got.softmax(1) - want.softmax(1)).abs().max().item()
            cells.append(f'{logit:.3f} / {prob:.3f}')
        print(' | '.join([option] + cells))


if __name__ == '__main__':
    main()
