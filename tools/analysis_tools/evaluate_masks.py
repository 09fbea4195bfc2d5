# Copyright (c) OpenMMLab. All rights reserved.
"""Score a folder of saved predicted masks against a dataset split.

The predictions may come from mmvlsm (``tools/test.py --out``) or from any
other codebase, so that their results go into the same table: one PNG per
record of ``DATA_ROOT/anns/SPLIT.json``, named after the record's
``mask_name`` with a ``.png`` extension (sub-folders kept), nonzero pixels
being the object, at the size of the ground truth. They are scored exactly
as ``tools/test.py`` scores a model (``DiceIoUMetric``: per-image and
pooled Dice and IoU, optionally HD95 and normalised surface Dice).

Outputs in ``--out``: ``per_image_metrics.csv`` (mask, prediction file,
Dice, IoU and the surface metrics, %) and ``metrics.json``.

Example::

    python tools/analysis_tools/evaluate_masks.py other_tool/preds \\
        --data-root data/kvasir_polyp --split test --surface-metrics \\
        --out work_dirs/other_tool_kvasir
"""
import argparse
import csv
import io
import json
import os.path as osp
import sys
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

# Importing mmvlsm also installs the mmcv-lite fallbacks.
from mmvlsm.datasets import load_medvlsm_annotations
from mmvlsm.datasets.transforms import LoadBinaryMask
from mmvlsm.evaluation import DiceIoUMetric, dice_iou
from mmvlsm.utils.paths import saved_mask_files, write_atomic


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Score saved predicted masks against a dataset split')
    parser.add_argument('pred_dir', help='folder of predicted PNG masks')
    parser.add_argument(
        '--data-root', required=True, help='the dataset (anns/, masks/)')
    parser.add_argument('--split', default='test', help='annotation file')
    parser.add_argument(
        '--mask-dir',
        default='masks',
        help='the split\'s masks, under --data-root (CAMUS test: masks/test)')
    parser.add_argument(
        '--surface-metrics',
        action='store_true',
        help='also HD95 and normalised surface Dice')
    parser.add_argument(
        '--nsd-tolerance',
        type=float,
        default=2.0,
        help='NSD tolerance in pixels')
    parser.add_argument(
        '--pixel-spacing',
        type=float,
        nargs=2,
        metavar=('ROW_MM', 'COL_MM'),
        help='pixel size: HD95 in mm as well')
    parser.add_argument(
        '--missing-as-empty',
        action='store_true',
        help='score records without a prediction as empty predictions '
        'instead of stopping')
    parser.add_argument('--out', required=True, help='output folder')
    return parser.parse_args(argv)


def load_pair(pred_file: str, gt_file: str,
              missing_as_empty: bool) -> Tuple[np.ndarray, np.ndarray]:
    """The ground truth and the prediction, both 0/1 of the GT's size."""
    gt = LoadBinaryMask()(dict(seg_map_path=gt_file,
                               img_path=gt_file))['gt_seg_map']
    if not osp.isfile(pred_file) and missing_as_empty:
        return np.zeros_like(gt), gt
    pred = LoadBinaryMask()(dict(seg_map_path=pred_file,
                                 img_path=pred_file))['gt_seg_map']
    return pred, gt


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    ann_file = osp.join(args.data_root, 'anns', f'{args.split}.json')
    records = load_medvlsm_annotations(ann_file)
    if not records:
        sys.exit(f'evaluate_masks.py: {ann_file} has no records')
    pred_files = saved_mask_files(args.pred_dir,
                                  [r['mask_name'] for r in records])
    missing = [f for f in pred_files if not osp.isfile(f)]
    if missing and not args.missing_as_empty:
        sys.exit(f'evaluate_masks.py: {len(missing)} of {len(records)} '
                 f'predictions are missing, e.g. {missing[:3]}; '
                 'pass --missing-as-empty to score them as empty')
    metric = DiceIoUMetric(
        surface_metrics=args.surface_metrics,
        nsd_tolerance=args.nsd_tolerance,
        pixel_spacing=args.pixel_spacing)
    name = osp.basename(osp.abspath(args.data_root))
    for record, pred_file in zip(records, pred_files):
        gt_file = osp.join(args.data_root, args.mask_dir, record['mask_name'])
        pred, gt = load_pair(pred_file, gt_file, args.missing_as_empty)
        sample = SegDataSample(
            metainfo=dict(
                img_path=gt_file,
                mask_name=record['mask_name'],
                dataset_name=name))
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None])
        metric.process({}, [sample.to_dict()])
    metrics = metric.compute_metrics(metric.results)

    surface_keys = [k for k in ('HD95', 'NSD', 'HD95_mm')
                    if k in metric.results[0]]
    counts = np.array([[r['intersect'], r['pred_area'], r['gt_area']]
                       for r in metric.results])
    dice, iou = dice_iou(*counts.T)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator='\n')
    writer.writerow(['mask_name', 'prediction', 'dice', 'iou'] +
                    [k.lower() for k in surface_keys])
    for record, pred_file, d, i in zip(metric.results, pred_files, dice, iou):
        writer.writerow([
            record['mask_name'],
            pred_file if osp.isfile(pred_file) else '(missing: empty)',
            f'{d * 100:.4f}', f'{i * 100:.4f}'
        ] + [f'{record[k]:.4f}' for k in surface_keys])
    write_atomic(osp.join(args.out, 'per_image_metrics.csv'), table.getvalue())
    write_atomic(
        osp.join(args.out, 'metrics.json'), json.dumps(metrics, indent=2))
    print(f'{len(records)} masks scored; ' +
          ', '.join(f'{k} {v:.2f}' for k, v in metrics.items()
                    if '/' not in k))
    print(f'results saved to {args.out}')


if __name__ == '__main__':
    main()
