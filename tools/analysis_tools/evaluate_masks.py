# Copyright (c) OpenMMLab. All rights reserved.
"""Score a folder of saved predicted masks against their ground truths.

The predictions may come from mmvlsm (``tools/test.py --out``,
``tools/infer.py``) or from any other codebase, so that their results go
into the same table. They are scored exactly as ``tools/test.py`` scores a
model (``DiceIoUMetric``: per-image and pooled Dice and IoU, optionally
HD95 and normalised surface Dice).

Two modes:

- ``--data-root``: a dataset split. One PNG per record of
  ``DATA_ROOT/anns/SPLIT.json``, named after the record's ``mask_name``
  with a ``.png`` extension (sub-folders kept), nonzero pixels being the
  object, at the size of the ground truth. Outputs in ``--out``:
  ``per_image_metrics.csv`` (mask, prediction file, Dice, IoU and the
  surface metrics, %) and ``metrics.json``.
- ``--gt-dir``: volumes. Every ground-truth volume under ``GT_DIR`` (any
  of ``.nii.gz .nii .mha .mhd .nrrd .nhdr``, searched recursively) is
  paired with the prediction of the same relative name, less the
  extension, under ``PRED_DIR`` (in any of these formats:
  ``a/case1.nii.gz`` may be predicted as ``a/case1.nrrd``). A prediction
  must have its ground truth's geometry (size, spacing, origin and
  direction, to 1e-4; see ``docs/input_formats.md``). Masks are binary (0
  and one other value) unless ``--labels`` or ``--legend`` make them label
  maps: each label is then scored as its own binary mask, one row per
  volume and label, and the metrics are reported per label as
  ``<class>/<key>`` besides their mean over all rows; a value outside 0
  and the labels is an error.
  Distances are 3D, in mm from the ground truth's voxel spacing
  (``--nsd-tolerance`` is in mm). Outputs in ``--out``:
  ``per_volume_metrics.csv`` (volume, prediction, label, class, Dice, IoU
  and the surface metrics, %) and ``metrics.json``.

Examples::

    python tools/analysis_tools/evaluate_masks.py other_tool/preds \\
        --data-root data/kvasir_polyp --split test --surface-metrics \\
        --out work_dirs/other_tool_kvasir
    python tools/analysis_tools/evaluate_masks.py work_dirs/ct_masks \\
        --gt-dir data/ct/labels --legend work_dirs/ct_masks/case1.json \\
        --surface-metrics --nsd-tolerance 2 --out work_dirs/ct_scores
"""
import argparse
import csv
import io
import json
import os
import os.path as osp
import sys
from typing import Dict, List, NoReturn, Optional, Tuple

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

# Importing mmvlsm also installs the mmcv-lite fallbacks.
from mmvlsm.datasets import load_medvlsm_annotations
from mmvlsm.datasets.transforms import LoadBinaryMask
from mmvlsm.datasets.volumes import (VOLUME_EXTENSIONS, Volume, VolumeError,
                                     check_same_geometry, read_volume,
                                     strip_volume_extension, volume_extension)
from mmvlsm.evaluation import DiceIoUMetric, dice_iou, surface_metric_keys
from mmvlsm.utils.paths import saved_mask_files, write_atomic

# Predictions and ground truths named in a message, at most.
MAX_LISTED = 20


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Score saved predicted masks against a dataset split '
        '(PNG masks) or a folder of ground-truth volumes')
    parser.add_argument(
        'pred_dir',
        help='folder of predicted masks: PNGs (--data-root) or volumes '
        '(--gt-dir)')
    ground_truth = parser.add_mutually_exclusive_group(required=True)
    ground_truth.add_argument(
        '--data-root', help='the dataset (anns/, masks/): PNG masks')
    ground_truth.add_argument(
        '--gt-dir',
        help='folder of ground-truth volumes (searched recursively)')
    parser.add_argument('--split', default='test', help='annotation file')
    parser.add_argument(
        '--mask-dir',
        default='masks',
        help='the split\'s masks, under --data-root (CAMUS test: masks/test)')
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument(
        '--labels',
        type=int,
        nargs='+',
        metavar='LABEL',
        help='volumes: they are label maps; score each of these labels as '
        'its own binary mask')
    labels.add_argument(
        '--legend',
        help='volumes: a JSON legend {"0": "background", "1": "liver", ...} '
        'or the JSON record tools/infer.py writes next to a label map: '
        'score its labels, under its names')
    parser.add_argument(
        '--surface-metrics',
        action='store_true',
        help='also HD95 and normalised surface Dice')
    parser.add_argument(
        '--nsd-tolerance',
        type=float,
        default=2.0,
        help='NSD tolerance in pixels (in mm for volumes)')
    parser.add_argument(
        '--pixel-spacing',
        type=float,
        nargs=2,
        metavar=('ROW_MM', 'COL_MM'),
        help='pixel size: HD95 in mm as well (volumes carry their own)')
    parser.add_argument(
        '--missing-as-empty',
        action='store_true',
        help='score ground truths without a prediction as empty predictions '
        'instead of stopping')
    parser.add_argument('--out', required=True, help='output folder')
    args = parser.parse_args(argv)
    if args.gt_dir is None and (args.labels or args.legend):
        parser.error('--labels and --legend apply to volumes (--gt-dir)')
    if args.gt_dir is not None and args.pixel_spacing:
        parser.error('--pixel-spacing applies to PNG masks; volumes carry '
                     'their voxel spacing')
    return args


def fail(message: str) -> NoReturn:
    """Stop with an error message and exit status 1."""
    sys.exit(f'evaluate_masks.py: error: {message}')


def listed(names: List[str]) -> str:
    """Up to :data:`MAX_LISTED` names, then how many more."""
    more = len(names) - MAX_LISTED
    return ', '.join(
        names[:MAX_LISTED]) + (f' and {more} more' if more > 0 else '')


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


def score_split(args: argparse.Namespace,
                metric: DiceIoUMetric) -> Tuple[List[str], List[list]]:
    """Feed the PNG predictions of a dataset split to ``metric``.

    Returns:
        tuple[list[str], list[list]]: The CSV's leading columns and their
        values, one row per record.
    """
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
    name = osp.basename(osp.abspath(args.data_root))
    rows = []
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
        rows.append([
            record['mask_name'],
            pred_file if osp.isfile(pred_file) else '(missing: empty)'
        ])
    return ['mask_name', 'prediction'], rows


def volume_files(folder: str) -> Dict[str, str]:
    """Every volume file under ``folder`` (hidden ones skipped), by its
    relative name less the extension (``a/case1``), in the order of the
    names.

    Volumes that share a name (``case1.nii.gz`` and ``case1.nrrd``) are an
    error: which one is meant cannot be told.
    """
    found = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        for name in sorted(files):
            if name.startswith('.') or volume_extension(name) is None:
                continue
            path = osp.join(root, name)
            stem = strip_volume_extension(osp.relpath(path, folder))
            if stem in found:
                fail(f'{found[stem]} and {path} are both volume {stem}; '
                     'keep one')
            found[stem] = path
    return dict(sorted(found.items()))


def read_classes(args: argparse.Namespace) -> Optional[Dict[int, str]]:
    """Label -> class name of ``--labels`` or ``--legend``; None for binary
    masks."""
    if args.labels:
        labels = list(dict.fromkeys(args.labels))
        if 0 in labels:
            fail('--labels: 0 is the background; give the object labels')
        return {label: f'label_{label}' for label in labels}
    if not args.legend:
        return None
    try:
        with open(args.legend, encoding='utf-8') as f:
            legend = json.load(f)
    except (OSError, ValueError) as err:
        fail(f'cannot read the legend {args.legend}: {err}')
    # The record tools/infer.py writes next to a mask holds the legend.
    if isinstance(legend, dict) and isinstance(legend.get('legend'), dict):
        legend = legend['legend']
    if not (isinstance(legend, dict)
            and all(key.strip().isdigit() and isinstance(name, str)
                    for key, name in legend.items())):
        fail(f'{args.legend} is not a legend: it must map label values to '
             'names, e.g. {"0": "background", "1": "liver"}')
    classes = {int(k): name for k, name in legend.items() if int(k) != 0}
    names = list(classes.values())
    shared = sorted({n for n in names if names.count(n) > 1})
    if not classes or shared:
        fail(f'{args.legend} must name labels besides 0, each differently' +
             (f' (shared names: {shared})' if shared else ''))
    return classes


def check_values(array: np.ndarray, path: str,
                 classes: Optional[Dict[int, str]]) -> None:
    """Refuse a label map with values outside 0 and ``classes`` or, without
    classes, a mask that is not binary (the 2D masks' rule)."""
    values = np.unique(array)
    if classes is None:
        if len(values) > 2 or (len(values) == 2 and values[0] != 0):
            fail(f'{path} holds {len(values)} values '
                 f'{values[:8].tolist()}, but a binary mask holds 0 and one '
                 'other value; for a label map pass --labels (its object '
                 'labels) or --legend')
        return
    unexpected = np.setdiff1d(values, [0, *classes])
    if unexpected.size:
        fail(f'{path} holds values {unexpected[:8].tolist()} besides 0 and '
             f'the labels {sorted(classes)}')


def load_volume(path: str) -> Volume:
    """Read a volume, stopping with its error if it cannot be read."""
    try:
        return read_volume(path)
    except (VolumeError, OSError) as err:
        fail(str(err))


def score_volumes(args: argparse.Namespace,
                  metric: DiceIoUMetric) -> Tuple[List[str], List[list]]:
    """Feed every (volume, class) pair of ``--gt-dir`` to ``metric``.

    Returns:
        tuple[list[str], list[list]]: The CSV's leading columns and their
        values, one row per volume and class.
    """
    gt_files = volume_files(args.gt_dir)
    if not gt_files:
        fail(f'{args.gt_dir} holds no volumes '
             f'({" ".join(VOLUME_EXTENSIONS)})')
    pred_files = volume_files(args.pred_dir)
    missing = [stem for stem in gt_files if stem not in pred_files]
    if missing and not args.missing_as_empty:
        fail(f'{len(missing)} of {len(gt_files)} ground-truth volumes have no '
             f'prediction in {args.pred_dir}: {listed(missing)}; pass '
             '--missing-as-empty to score them as empty')
    classes = read_classes(args)
    rows = []
    for stem, gt_file in gt_files.items():
        gt = load_volume(gt_file)
        pred_file = pred_files.get(stem)
        if pred_file is None:
            pred_array = np.zeros(gt.array.shape, np.uint8)
        else:
            pred = load_volume(pred_file)
            try:
                check_same_geometry(gt.image, pred.image, gt_file, pred_file)
            except VolumeError as err:
                fail(str(err))
            pred_array = pred.array
        check_values(gt.array, gt_file, classes)
        check_values(pred_array, pred_file, classes)
        name = osp.relpath(gt_file, args.gt_dir)
        # A binary mask is one class: its nonzero voxels.
        for label, class_name in (classes or {None: 'foreground'}).items():
            masks = [(a != 0) if label is None else (a == label)
                     for a in (pred_array, gt.array)]
            metric.process({}, [
                dict(
                    pred_sem_seg=dict(data=torch.from_numpy(masks[0])[None]),
                    gt_sem_seg=dict(data=torch.from_numpy(masks[1])[None]),
                    mask_name=name,
                    dataset_name=class_name,
                    spacing=gt.spacing)
            ])
            rows.append([
                name, pred_file or '(missing: empty)',
                'nonzero' if label is None else label, class_name
            ])
    return ['volume', 'prediction', 'label', 'class'], rows


def write_scores(out: str, csv_name: str, columns: List[str], rows: List[list],
                 metric: DiceIoUMetric, metrics: Dict[str, float]) -> None:
    """Write ``csv_name`` (the rows, then Dice, IoU and the surface metrics
    of each, %) and ``metrics.json`` to ``out``."""
    surface_keys = surface_metric_keys(metric.results)
    counts = np.array([[r['intersect'], r['pred_area'], r['gt_area']]
                       for r in metric.results])
    dice, iou = dice_iou(*counts.T)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator='\n')
    writer.writerow(columns + ['dice', 'iou'] +
                    [k.lower() for k in surface_keys])
    for record, row, d, i in zip(metric.results, rows, dice, iou):
        writer.writerow(row + [f'{d * 100:.4f}', f'{i * 100:.4f}'] +
                        [f'{record[k]:.4f}' for k in surface_keys])
    write_atomic(osp.join(out, csv_name), table.getvalue())
    write_atomic(osp.join(out, 'metrics.json'), json.dumps(metrics, indent=2))


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    volumes = args.gt_dir is not None
    metric = DiceIoUMetric(
        surface_metrics=args.surface_metrics,
        pixel_spacing=args.pixel_spacing,
        **{
            ('nsd_tolerance_mm' if volumes else 'nsd_tolerance'):
            args.nsd_tolerance
        })
    columns, rows = (score_volumes if volumes else score_split)(args, metric)
    metrics = metric.compute_metrics(metric.results)
    write_scores(
        args.out,
        'per_volume_metrics.csv' if volumes else 'per_image_metrics.csv',
        columns, rows, metric, metrics)
    scored = (f'{len({row[0] for row in rows})} volumes'
              if volumes else f'{len(rows)} masks')
    print(f'{scored} scored; ' +
          ', '.join(f'{k} {v:.2f}'
                    for k, v in metrics.items() if '/' not in k))
    print(f'results saved to {args.out}')


if __name__ == '__main__':
    main()
