# Copyright (c) OpenMMLab. All rights reserved.
import argparse

# Importing mmvlsm also installs the mmcv-lite fallbacks and the safe
# checkpoint types (see mmvlsm/__init__.py).
from mmvlsm.utils.launch import (add_launch_args, build_runner,
                                 close_distributed, enable_amp,
                                 load_launch_config, parse_launch_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train a segmentor or a classifier')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or, with no value, from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        nargs='?',
        const='auto',
        choices=['auto', 'fp16', 'bf16'],
        help='mixed-precision training; with no value, bf16 where the GPU '
        'supports it, else fp16')
    add_launch_args(parser)
    return parse_launch_args(parser)


def main() -> None:
    args = parse_args()
    cfg = load_launch_config(args)

    if args.amp is not None:
        enable_amp(cfg, args.amp)

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    runner = build_runner(cfg, quiet=args.quiet)
    runner.train()
    close_distributed()


if __name__ == '__main__':
    main()
