# Copyright (c) OpenMMLab. All rights reserved.
import argparse
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import dump

# Importing mmvlsm also installs the mmcv-lite fallbacks and the safe
# checkpoint types (see mmvlsm/__init__.py).
from mmvlsm.utils.launch import (add_launch_args, build_runner,
                                 close_distributed, config_task,
                                 load_launch_config, parse_launch_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a segmentor or a classifier')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint file; only a zero-shot config (one that sets '
        '`zero_shot = True`) may go without, and is evaluated as built')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='directory for the predictions. Segmentation: every predicted '
        'mask as a PNG named after its mask_name, at the original '
        'resolution, with per_image_metrics.csv; names that are shared or '
        'point outside DIR are changed (the csv gives each file). '
        'Classification: patch_predictions.csv and slide_predictions.csv')
    parser.add_argument(
        '--show-dir',
        help='directory where overlays are saved (segmentation: image, '
        'prediction, ground-truth contour and prompt; classification: '
        'image with predicted and true class)')
    add_launch_args(parser)
    return parse_launch_args(parser)


def main() -> None:
    args = parse_args()
    if (args.out is not None and args.show_dir is not None
            and osp.realpath(args.out) == osp.realpath(args.show_dir)):
        # Masks and overlays are named alike and would overwrite each other.
        raise ValueError(f'--out and --show-dir are both {args.out}; give '
                         'them different folders')
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = load_launch_config(args)
    if args.checkpoint is None and not cfg.get('zero_shot', False):
        raise ValueError(
            f'give the checkpoint to test: {args.config} is not a zero-shot '
            'config (`zero_shot = True`), so its model as built would be '
            'partly untrained')
    task = config_task(cfg)

    if args.out is not None:
        evaluators = cfg.test_evaluator
        for evaluator in (evaluators
                          if isinstance(evaluators, list) else [evaluators]):
            evaluator['output_dir'] = args.out
    if args.show_dir is not None:
        cfg.default_hooks.visualization = dict(
            type='VLSMVisualizationHook', draw=True,
            out_dir=args.show_dir) if task == 'segmentation' else dict(
                # Every image (mmpretrain's default draws one in 5000).
                type='VisualizationHook',
                enable=True,
                interval=1,
                out_dir=args.show_dir)

    runner = build_runner(cfg, quiet=args.quiet)
    if args.checkpoint is None:
        runner.logger.info('zero-shot config: evaluating the model as built '
                           'from its pretrained weights')
    else:
        # Loaded strictly (the Runner's `load_from` is lenient): a checkpoint
        # of another model must not be evaluated with half its weights
        # random. A file that cannot be read fails before, with its own
        # message (see mmvlsm.utils.load_from_local).
        try:
            runner.load_checkpoint(args.checkpoint, strict=True)
        except RuntimeError as err:
            raise RuntimeError(
                f'checkpoint {args.checkpoint} does not match the model of '
                f'{args.config}: {err}') from err
    metrics = runner.test()
    if is_main_process():
        # A machine-readable copy next to the logs, for scripts and sweeps.
        dump(metrics, osp.join(cfg.work_dir, 'test_metrics.json'), indent=2)
    close_distributed()


if __name__ == '__main__':
    main()
