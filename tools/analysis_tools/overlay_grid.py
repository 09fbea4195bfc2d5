# Copyright (c) OpenMMLab. All rights reserved.
"""A grid picture of a sample of a test set: image, ground truth, prediction.

One row per record with three cells: the image, its ground truth (white on
black) and the prediction overlaid on the image in red with the ground-truth
contour in green (:meth:`VLSMVisualizationHook.draw_overlay`). Under each
row: the mask name, the Dice and the prompt, wrapped.

The predictions are a folder written by ``tools/test.py --out PRED_DIR``.
When ``PRED_DIR/per_image_metrics.csv`` is there, it gives each record's
output file, prompt and Dice; otherwise every record of
``DATA_ROOT/anns/SPLIT.json`` is expected as ``PRED_DIR/<mask_name stem>.png``
(the layout of ``tools/analysis_tools/evaluate_masks.py``), its prompt is
``--prompt-key`` of the record and its Dice is computed from the masks.

Example::

    python tools/test.py CONFIG CKPT --out work_dirs/preds
    python tools/analysis_tools/overlay_grid.py work_dirs/preds \\
        --data-root data/kvasir_polyp --split test --num 6 --sort worst \\
        --out work_dirs/worst.png
"""
import argparse
import csv
import os.path as osp
import random
import sys
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

# Importing mmvlsm also installs the mmcv-lite fallbacks.
from mmvlsm.datasets import load_medvlsm_annotations
from mmvlsm.datasets.transforms import LoadBinaryMask, LoadCheckedImageFromFile
from mmvlsm.engine.hooks.visualization_hook import VLSMVisualizationHook
from mmvlsm.evaluation import dice_iou
from mmvlsm.utils.paths import saved_mask_files, write_atomic

CSV_NAME = 'per_image_metrics.csv'
COLUMNS = ('image', 'ground truth', 'prediction')
# Lines under each row: the mask name and Dice, then the wrapped prompt.
LABEL_LINES = 3


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Grid of images, ground truths and predictions')
    parser.add_argument(
        'pred_dir', help='folder of predicted masks (tools/test.py --out)')
    parser.add_argument(
        '--data-root',
        required=True,
        help='the dataset (anns/, images/, '
        'masks/)')
    parser.add_argument('--split', default='test', help='annotation file')
    parser.add_argument(
        '--image-dir',
        default='images',
        help='the split\'s images, under --data-root (CAMUS test: '
        'images/test)')
    parser.add_argument(
        '--mask-dir',
        default='masks',
        help='the split\'s masks, under --data-root (CAMUS test: masks/test)')
    parser.add_argument('--num', type=int, default=6, help='number of rows')
    parser.add_argument(
        '--sort',
        choices=('random', 'best', 'worst'),
        default='random',
        help='rows drawn at random, or the highest / lowest Dice first')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of --sort random')
    parser.add_argument(
        '--size', type=int, default=256, help='side of a cell in pixels')
    parser.add_argument(
        '--alpha',
        type=float,
        default=0.5,
        help='opacity of the prediction colour')
    parser.add_argument(
        '--prompt-key',
        default='p2',
        help=f'prompt shown when {CSV_NAME} is absent')
    parser.add_argument('--out', required=True, help='output PNG file')
    args = parser.parse_args(argv)
    if args.num < 1 or args.size < 16:
        parser.error('--num must be >= 1 and --size >= 16')
    return args


def _prompt(record: dict, key: str) -> str:
    text = record['prompts'].get(key, '')
    return text[0] if isinstance(text, list) and text else str(text or '')


def collect_rows(pred_dir: str,
                 data_root: str,
                 split: str,
                 prompt_key: str,
                 image_dir: str = 'images',
                 mask_dir: str = 'masks') -> List[dict]:
    """The candidate rows, one per prediction.

    Args:
        pred_dir (str): Folder of predicted masks.
        data_root (str): Dataset folder with ``anns/``, images and masks.
        split (str): Name of the annotation file in ``anns/``.
        prompt_key (str): Prompt shown when there is no csv.
        image_dir (str): The split's images, under ``data_root``.
            Defaults to ``'images'``.
        mask_dir (str): The split's masks, under ``data_root``. Defaults
            to ``'masks'``.

    Returns:
        list[dict]: Dicts with ``mask_name``, ``img_path``, ``gt_path``,
        ``pred_path``, ``text`` and ``dice`` (percent, None when there is no
        csv).

    Raises:
        FileNotFoundError: If the annotation file or ``pred_dir`` is missing.
        ValueError: If the csv names a mask the split does not hold.
    """
    if not osp.isdir(pred_dir):
        raise FileNotFoundError(f'Prediction folder not found: {pred_dir}')
    ann_file = osp.join(data_root, 'anns', f'{split}.json')
    records = {r['mask_name']: r for r in load_medvlsm_annotations(ann_file)}

    def row(record: dict, pred_path: str, text: str,
            dice: Optional[float]) -> dict:
        return dict(
            mask_name=record['mask_name'],
            img_path=osp.join(data_root, image_dir, record['img_name']),
            gt_path=osp.join(data_root, mask_dir, record['mask_name']),
            pred_path=pred_path,
            text=text,
            dice=dice)

    csv_file = osp.join(pred_dir, CSV_NAME)
    if not osp.isfile(csv_file):
        files = saved_mask_files(pred_dir, list(records))
        return [
            row(r, pred_file, _prompt(r, prompt_key), None)
            for pred_file, r in zip(files, records.values())
        ]
    rows = []
    with open(csv_file, newline='', encoding='utf-8') as f:
        for line in csv.DictReader(f):
            record = records.get(line['mask_name'])
            if record is None:
                raise ValueError(
                    f'{csv_file} lists {line["mask_name"]!r}, which is not '
                    f'in {ann_file}; pass the --data-root and --split the '
                    'predictions were made on')
            rows.append(
                row(record, osp.join(pred_dir, line['output_file']),
                    line['text'], float(line['dice'])))
    return rows


def load_row(row: dict) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image (BGR uint8), ground truth and prediction (bool) of a row.

    Raises:
        FileNotFoundError: If one of the files is missing (it is named).
        ValueError: If the prediction is not of the ground truth's size.
    """
    for key in ('img_path', 'gt_path', 'pred_path'):
        if not osp.isfile(row[key]):
            raise FileNotFoundError(
                f'{key[:-5]} file of {row["mask_name"]} not found: '
                f'{row[key]}')
    img = LoadCheckedImageFromFile()(dict(img_path=row['img_path']))['img']
    masks = [
        LoadBinaryMask()(dict(seg_map_path=row[key],
                              img_path=row[key]))['gt_seg_map'] > 0
        for key in ('gt_path', 'pred_path')
    ]
    gt, pred = masks
    if pred.shape != gt.shape or gt.shape != img.shape[:2]:
        raise ValueError(
            f'{row["pred_path"]} is {pred.shape[1]}x{pred.shape[0]}, '
            f'{row["gt_path"]} {gt.shape[1]}x{gt.shape[0]} and '
            f'{row["img_path"]} {img.shape[1]}x{img.shape[0]}; they must '
            'have the same size')
    return img, gt, pred


def row_dice(row: dict) -> float:
    """The row's Dice in percent: from the csv, else from its masks."""
    if row['dice'] is None:
        _, gt, pred = load_row(row)
        dice, _ = dice_iou((gt & pred).sum(), pred.sum(), gt.sum())
        row['dice'] = float(dice) * 100
    return row['dice']


def select_rows(rows: Sequence[dict], num: int, sort: str,
                seed: int) -> List[dict]:
    """Choose the rows of the grid.

    Args:
        rows (Sequence[dict]): Rows of :func:`collect_rows`.
        num (int): At most this many rows are chosen.
        sort (str): ``'random'`` (``num`` rows drawn with ``seed``, in
            dataset order), ``'best'`` (highest Dice first) or ``'worst'``
            (lowest Dice first); ties are broken by mask name.
        seed (int): Seed of the random draw.

    Returns:
        list[dict]: The chosen rows, in grid order.
    """
    if sort == 'random':
        chosen = sorted(
            random.Random(seed).sample(range(len(rows)), min(num, len(rows))))
        return [rows[i] for i in chosen]
    sign = -1 if sort == 'best' else 1
    return sorted(
        rows, key=lambda r: (sign * row_dice(r), r['mask_name']))[:num]


def _fit(img: np.ndarray, size: int) -> np.ndarray:
    """``img`` scaled to fit a ``size`` x ``size`` cell, centred on white."""
    height, width = img.shape[:2]
    scale = size / max(height, width)
    new_w = max(1, round(width * scale))
    new_h = max(1, round(height * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(img, (new_w, new_h), interpolation=interp)
    cell = np.full((size, size, 3), 255, dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    cell[top:top + new_h, left:left + new_w] = resized
    return cell


def _text_band(lines: List[str], width: int, num_lines: int,
               font_width: int) -> np.ndarray:
    """Black text on white, ``num_lines`` high whatever ``lines`` holds; the
    font is that of a banner ``font_width`` wide."""
    hook = VLSMVisualizationHook
    font = hook._font(' '.join(lines), font_width)
    lines = (list(lines) + [''] * num_lines)[:num_lines]
    return 255 - hook._banner(lines, font, width)


def _label_lines(row: dict, width: int) -> List[str]:
    hook = VLSMVisualizationHook
    font = hook._font(row['text'], width)
    lines = [f'{row["mask_name"]}   Dice {row_dice(row):.2f}']
    prompt = hook._wrap(f'prompt: "{row["text"]}"', font, width)
    return lines + prompt[:LABEL_LINES - 1]


def draw_row(row: dict, size: int, alpha: float = 0.5) -> np.ndarray:
    """The three cells of a row and its label under them, BGR uint8."""
    img, gt, pred = load_row(row)
    height, width = img.shape[:2]
    # The overlay is drawn at the image's resolution; its banner (prompt
    # and scores, written in the label instead) is cut off.
    overlay = VLSMVisualizationHook.draw_overlay(img, pred, '', gt,
                                                 alpha)[-height:, :width]
    gt_img = np.repeat(gt[..., None].astype(np.uint8) * 255, 3, axis=2)
    cells = np.concatenate([_fit(x, size) for x in (img, gt_img, overlay)],
                           axis=1)
    width = cells.shape[1]
    label = _text_band(_label_lines(row, width), width, LABEL_LINES, width)
    return np.concatenate([cells, label], axis=0)


def draw_grid(rows: Sequence[dict],
              size: int,
              alpha: float = 0.5) -> np.ndarray:
    """The grid: a header with the column names, then one row per record.

    Args:
        rows (Sequence[dict]): Rows of :func:`select_rows`.
        size (int): Side of a cell in pixels.
        alpha (float): Opacity of the prediction colour.

    Returns:
        np.ndarray: BGR uint8 of shape (header + len(rows) * (size + label),
        3 * size, 3); see :func:`grid_shape`.
    """
    width = len(COLUMNS) * size
    header = np.concatenate(
        [_text_band([name], size, 1, width) for name in COLUMNS], axis=1)
    return np.concatenate(
        [header] + [draw_row(row, size, alpha) for row in rows], axis=0)


def grid_shape(num_rows: int, size: int) -> Tuple[int, int]:
    """(height, width) in pixels of a grid of ``num_rows`` rows."""
    width = len(COLUMNS) * size
    header = _text_band(['image'], size, 1, width).shape[0]
    label = _text_band(['x'], width, LABEL_LINES, width).shape[0]
    return header + num_rows * (size + label), width


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    try:
        rows = collect_rows(args.pred_dir, args.data_root, args.split,
                            args.prompt_key, args.image_dir, args.mask_dir)
        if not rows:
            sys.exit(f'overlay_grid.py: no records in {args.data_root} '
                     f'split {args.split}')
        chosen = select_rows(rows, args.num, args.sort, args.seed)
        grid = draw_grid(chosen, args.size, args.alpha)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f'overlay_grid.py: {err}')
    ok, png = cv2.imencode('.png', grid)
    if not ok:
        sys.exit(f'overlay_grid.py: cannot encode {args.out}')
    write_atomic(args.out, png.tobytes())
    for i, row in enumerate(chosen):
        print(f'row {i}: {row["mask_name"]} Dice {row_dice(row):.2f}')
    print(f'grid of {len(chosen)} rows saved to {args.out}')


if __name__ == '__main__':
    main()
