# Copyright (c) OpenMMLab. All rights reserved.
"""Config handling shared by ``tools/train.py`` and ``tools/test.py``."""
import os
import os.path as osp
from argparse import ArgumentParser, Namespace

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction

from .config import (bind_prompt_tokenizer,
                     static_token_shapes_for_compile)


def add_launch_args(parser: ArgumentParser) -> None:
    """Add the arguments ``tools/train.py`` and ``tools/test.py`` share.

    They are mmseg's: ``--cfg-options``, ``--launcher`` and
    ``--local-rank``.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes `--local-rank` since torch 2.0.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_launch_args(parser: ArgumentParser) -> Namespace:
    """Parse the command line; export ``--local-rank`` as ``LOCAL_RANK``.

    torchrun sets ``LOCAL_RANK`` itself; the older launcher only passes the
    argument, and mmengine reads the variable.
    """
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_launch_config(args: Namespace) -> Config:
    """Read ``args.config`` and apply the options both tools share.

    Handles ``--cfg-options``, ``--launcher`` and ``--work-dir`` (CLI > the
    config's ``work_dir`` > ``./work_dirs/<config name>``, as mmseg does),
    gives the pipelines' ``TokenizePrompt`` steps the model's tokenizer
    (:func:`bind_prompt_tokenizer`), keeps token shapes static under
    ``compile`` (:func:`static_token_shapes_for_compile`) and prepares
    CPU-only distributed runs (see :func:`setup_cpu_distributed`).

    Args:
        args (Namespace): Parsed arguments with ``config``, ``cfg_options``,
            ``launcher`` and ``work_dir``.

    Returns:
        Config: The config, ready for ``Runner.from_cfg``.
    """
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    bind_prompt_tokenizer(cfg)
    static_token_shapes_for_compile(cfg)
    if args.launcher == 'pytorch' and not torch.cuda.is_available():
        setup_cpu_distributed(cfg)
    return cfg


def setup_cpu_distributed(cfg: Config) -> None:
    """Start a gloo process group for a ``--launcher pytorch`` CPU run.

    mmengine 0.10.7 always calls ``torch.cuda.set_device`` and wraps the model
    in DDP with ``device_ids=[LOCAL_RANK]``; both fail on a machine without a
    GPU. Initialising the group here makes the Runner skip its own
    ``init_dist``, and ``device_ids=None`` is what DDP wants for CPU modules.

    Args:
        cfg (Config): The config to adapt in place.
    """
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


AMP_DTYPES = {'fp16': 'float16', 'bf16': 'bfloat16'}


def enable_amp(cfg: Config, dtype: str = 'auto') -> None:
    """Switch the config's optimizer wrapper to mixed precision.

    Args:
        cfg (Config): The config to change in place; its ``optim_wrapper``
            must be an ``OptimWrapper`` or already an ``AmpOptimWrapper``.
        dtype (str): ``'fp16'``, ``'bf16'`` or ``'auto'``: bf16 where the
            GPU supports it (Ampere and newer; it needs no loss scaling to
            stay finite), else fp16.
    """
    if dtype == 'auto':
        dtype = 'bf16' if (torch.cuda.is_available()
                           and torch.cuda.is_bf16_supported()) else 'fp16'
    if dtype not in AMP_DTYPES:
        raise ValueError(f'AMP dtype must be one of {list(AMP_DTYPES)} or '
                         f"'auto', got {dtype!r}")
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
        raise ValueError('--amp needs `optim_wrapper.type` OptimWrapper or '
                         f'AmpOptimWrapper, got {wrapper}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.dtype = AMP_DTYPES[dtype]
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
