# Copyright (c) OpenMMLab. All rights reserved.
import csv
import logging
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.utils import mkdir_or_exist
from prettytable import PrettyTable

from mmvlsm.registry import METRICS
from mmvlsm.utils.paths import (move_to_output_names, output_keys, path_inside,
                                safe_relative_path, write_partial)
from .surface_distance import hd95_nsd

METRIC_KEYS = ('mDice', 'mDice_std', 'mIoU', 'mIoU_std', 'gDice', 'gIoU')
# Per-sample surface metrics stored with surface_metrics=True; the _mm ones
# need a spacing.
SURFACE_KEYS = ('HD95', 'NSD', 'HD95_mm', 'NSD_mm')


def dice_iou(intersect: np.ndarray, pred_area: np.ndarray,
             gt_area: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Binary Dice and IoU from pixel counts, in [0, 1].

    Matches MONAI's ``compute_dice`` and ``compute_iou`` with
    ``ignore_empty=False``: Dice = 2|P∩G| / (|P| + |G|) and
    IoU = |P∩G| / |P∪G|. An empty ground truth scores 1 when the prediction
    is empty too and 0 when any pixel is predicted.

    Args:
        intersect (np.ndarray): |P∩G|, any shape.
        pred_area (np.ndarray): |P|, same shape as ``intersect``.
        gt_area (np.ndarray): |G|, same shape as ``intersect``.

    Returns:
        tuple[np.ndarray, np.ndarray]: Dice and IoU, float64 arrays of the
        input shape.
    """
    intersect = np.asarray(intersect, dtype=np.float64)
    denominator = np.asarray(pred_area, np.float64) + np.asarray(
        gt_area, np.float64)
    union = denominator - intersect
    # Both are 0 only when P and G are empty; any other case with an empty
    # G has a positive denominator and a zero intersection, hence 0.
    dice = np.divide(
        2 * intersect,
        denominator,
        out=np.ones_like(denominator),
        where=denominator > 0)
    iou = np.divide(intersect, union, out=np.ones_like(union), where=union > 0)
    return dice, iou


def _binary_mask(data: torch.Tensor) -> torch.Tensor:
    """(1, H, W), (H, W) or (1, D, H, W) label tensor -> (H, W) or
    (D, H, W) bool, nonzero = object."""
    return (data.squeeze(0) if data.dim() > 2 else data) != 0


def surface_metric_keys(results: List[dict]) -> List[str]:
    """The surface metrics stored for the samples (of
    :data:`SURFACE_KEYS`), each present in every record.

    Raises:
        ValueError: If some records have the mm metrics and others do not,
            naming one of each kind.
    """
    keys = [k for k in SURFACE_KEYS if any(k in r for r in results)]
    for key in keys:
        without = [r['mask_name'] for r in results if key not in r]
        if without:
            raise ValueError(
                f'{len(results) - len(without)} of {len(results)} samples '
                f'have a spacing (metainfo "spacing"), but {len(without)} '
                f'do not, e.g. {without[:3]}: {key} needs one for every '
                'sample; set pixel_spacing or give every sample a spacing.')
    return keys


@METRICS.register_module()
class DiceIoUMetric(BaseMetric):
    """Dice and IoU for binary, text-prompted segmentation.

    Every image (or volume) is scored on its own at its original
    resolution, as medvlsm's ``scripts/eval_metrics.py`` does. Nonzero
    pixels (voxels) of ``pred_sem_seg`` and ``gt_sem_seg`` are the object.
    The returned keys, all in percent (×100, not rounded):

    - ``mDice`` / ``mIoU``: mean over images of the per-image Dice / IoU
      (the numbers medvlsm reports);
    - ``mDice_std`` / ``mIoU_std``: their population standard deviation over
      images (``ddof=0``, numpy's default);
    - ``gDice`` / ``gIoU``: dataset-level ("global") Dice / IoU of the pixels
      pooled over all images, as mmseg's ``IoUMetric`` computes for the
      object class.

    With ``surface_metrics``, each image also gets its HD95 and normalised
    surface Dice (see :func:`~mmvlsm.evaluation.metrics.surface_distance.
    hd95_nsd`, which also says how empty masks count; volumes get 3D
    surface distances): ``mHD95`` / ``mHD95_std`` in pixels (voxels),
    ``mNSD`` / ``mNSD_std`` in percent at ``nsd_tolerance`` pixels, and,
    when the samples have a spacing (``pixel_spacing``, or a sample's
    metainfo ``spacing``), ``mHD95_mm`` / ``mHD95_mm_std`` and ``mNSD_mm`` /
    ``mNSD_mm_std`` (at ``nsd_tolerance_mm``).

    When the samples come from several ``dataset_name`` values (a pooled
    ``ConcatDataset``), every key is also reported per dataset as
    ``<dataset_name>/<key>``; a table with one row per dataset is logged in
    any case.

    Args:
        output_dir (str, optional): If set, each predicted mask is saved as
            a lossless 0/255 uint8 PNG at the original resolution to
            ``output_dir/<mask_name with a .png extension>`` (sub-folders of
            ``mask_name`` are kept; names that are shared or point outside
            ``output_dir`` are changed as
            :func:`mmvlsm.utils.paths.output_names` says, so no file is
            written outside ``output_dir`` and no mask overwrites another),
            and ``output_dir/per_image_metrics.csv`` lists every sample with
            the columns ``mask_name``, ``output_file`` (the PNG, relative to
            ``output_dir``), ``dataset_name``, ``prompt_key``, ``text``,
            ``dice`` and ``iou`` (percent). ``process`` writes each mask to
            ``output_dir/.partial/`` and ``compute_metrics`` names them; in
            distributed runs every rank writes its own samples, so the
            directory must be shared. Existing files are overwritten; a
            warning is logged if ``output_dir`` is not empty. Volume samples
            are refused (a PNG would lose their geometry; volume masks are
            written with :func:`mmvlsm.datasets.volumes.write_volume`).
            Defaults to None.
        surface_metrics (bool): Also compute HD95 and NSD per image (on the
            CPU; SciPy). Defaults to False.
        nsd_tolerance (float): NSD's tolerance in pixels (voxels). Defaults
            to 2.0.
        nsd_tolerance_mm (float): NSD's tolerance in mm, for the samples
            with a spacing. Defaults to 2.0.
        pixel_spacing (Sequence[float], optional): Pixel size in mm at the
            original resolution, in the array's axis order ((rows, columns),
            or (slices, rows, columns) for volumes), when the dataset has
            one: HD95 and NSD are then reported in mm as well. A sample's
            metainfo ``spacing`` (same order) overrides it. Defaults to
            None.
        collect_device (str): Device used to collect results from the ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix added to the metric names to tell
            several evaluators apart. Defaults to None.

    Examples:
        >>> # A 4-pixel prediction overlapping a 6-pixel GT on 3 pixels:
        >>> # Dice = 2 * 3 / (4 + 6) = 0.6, IoU = 3 / 7.
        >>> [round(float(v), 4) for v in dice_iou(3, 4, 6)]
        [0.6, 0.4286]
    """

    def __init__(self,
                 output_dir: Optional[str] = None,
                 surface_metrics: bool = False,
                 nsd_tolerance: float = 2.0,
                 nsd_tolerance_mm: float = 2.0,
                 pixel_spacing: Optional[Sequence[float]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if pixel_spacing is not None and not surface_metrics:
            raise ValueError('pixel_spacing is used by surface_metrics only')
        self.output_dir = output_dir
        self.surface_metrics = surface_metrics
        self.nsd_tolerance = nsd_tolerance
        self.nsd_tolerance_mm = nsd_tolerance_mm
        self.pixel_spacing = (
            tuple(pixel_spacing) if pixel_spacing is not None else None)
        self._num_written = 0
        if (output_dir is not None and is_main_process()
                and osp.isdir(output_dir) and os.listdir(output_dir)):
            print_log(
                f'DiceIoUMetric: output_dir {output_dir} is not empty; files '
                'with the same names as the new predictions will be '
                'overwritten.',
                logger='current',
                level=logging.WARNING)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Store the pixel counts of each image and save its mask if asked.

        Args:
            data_batch (dict): A batch from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs as dicts (a
                volume's as a plain dict: ``PixelData`` holds 2D data
                only), each with ``pred_sem_seg.data`` and
                ``gt_sem_seg.data`` of shape (1, H, W), or (1, D, H, W)
                for a volume, at the original
                resolution, and the metainfo keys ``mask_name`` (falls back
                to the basename of ``img_path``), ``dataset_name``,
                ``prompt_key``, ``text`` and optionally ``spacing`` (the
                pixel or voxel size in mm, in the array's axis order).

        Raises:
            ValueError: If a prediction and its ground truth differ in shape,
                a spacing does not have one value per axis, or a volume
                comes with ``output_dir``.
            OSError: If a mask cannot be written.
        """
        records, counts = [], []
        for data_sample in data_samples:
            keys = output_keys(data_sample)
            mask_name = keys['mask_name']
            pred = _binary_mask(data_sample['pred_sem_seg']['data'])
            gt = _binary_mask(data_sample['gt_sem_seg']['data']).to(
                pred.device)
            if pred.shape != gt.shape:
                raise ValueError(
                    f'{mask_name}: the prediction has shape '
                    f'{tuple(pred.shape)} but the ground truth has shape '
                    f'{tuple(gt.shape)}; predictions must be resized to the '
                    'original image size (ori_shape) before evaluation.')
            if self.output_dir is not None and pred.dim() == 3:
                raise ValueError(
                    f'{mask_name} is a volume {tuple(pred.shape)}: '
                    'DiceIoUMetric(output_dir=...) saves 2D PNG masks only; '
                    'write volume masks with '
                    'mmvlsm.datasets.volumes.write_volume (tools/infer.py '
                    'does) and leave output_dir unset.')
            # Counted where the prediction lives; nothing waits for them yet.
            counts.append(
                torch.stack([(pred & gt).sum(),
                             pred.sum(),
                             gt.sum()]))
            records.append(keys)
            if self.surface_metrics:
                records[-1].update(
                    self._surface(pred, gt, data_sample.get('spacing'),
                                  mask_name))
            if self.output_dir is not None:
                # Named in `compute_metrics`, once every sample is known.
                records[-1]['partial_file'] = write_partial(
                    self.output_dir,
                    pred.cpu().numpy().astype(np.uint8) * 255,
                    self._num_written)
                self._num_written += 1
        if not records:
            return
        # One copy to the host per batch: three integers per image.
        for record, (intersect, pred_area,
                     gt_area) in zip(records,
                                     torch.stack(counts).cpu().tolist()):
            record.update(
                intersect=intersect, pred_area=pred_area, gt_area=gt_area)
            self.results.append(record)

    def _surface(self, pred: torch.Tensor, gt: torch.Tensor,
                 spacing: Optional[Sequence[float]],
                 mask_name: str) -> Dict[str, float]:
        """HD95 and NSD (%) of one image or volume, in pixels (voxels) and,
        with a spacing (the sample's, else ``pixel_spacing``), in mm."""
        pred_np, gt_np = pred.cpu().numpy(), gt.cpu().numpy()
        hd95, nsd = hd95_nsd(pred_np, gt_np, tolerance=self.nsd_tolerance)
        values = dict(HD95=hd95, NSD=nsd * 100)
        spacing = self.pixel_spacing if spacing is None else tuple(
            float(v) for v in spacing)
        if spacing is not None:
            if len(spacing) != pred_np.ndim:
                raise ValueError(
                    f'{mask_name}: spacing {spacing} has {len(spacing)} '
                    f'values but the masks {pred_np.shape} have '
                    f'{pred_np.ndim} axes')
            hd95_mm, nsd_mm = hd95_nsd(pred_np, gt_np, spacing,
                                       self.nsd_tolerance_mm)
            values.update(HD95_mm=hd95_mm, NSD_mm=nsd_mm * 100)
        return values

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the metrics from the per-image counts of all ranks.

        Args:
            results (list[dict]): The records stored by ``process``.

        Returns:
            dict[str, float]: The keys listed in the class docstring, plus
            ``<dataset_name>/<key>`` for each dataset when there are several.

        Raises:
            ValueError: If some samples have a spacing and others do not (the
                mm metrics would average different samples).
        """
        counts = np.array([[r['intersect'], r['pred_area'], r['gt_area']]
                           for r in results],
                          dtype=np.int64).reshape(-1, 3)
        dice, iou = dice_iou(*counts.T)
        names = np.array([r['dataset_name'] for r in results], dtype=object)

        surface_keys = surface_metric_keys(results)
        surface = {
            key: np.array([r[key] for r in results], dtype=np.float64)
            for key in surface_keys
        }
        metrics = self._summarize(dice, iou, counts, surface)
        dataset_names = list(dict.fromkeys(names))
        label = dataset_names[0] if len(dataset_names) == 1 else 'all'
        rows = [(label, len(results), metrics.copy())]
        if len(dataset_names) > 1:
            for name in dataset_names:
                keep = names == name
                subset = self._summarize(dice[keep], iou[keep], counts[keep], {
                    key: values[keep]
                    for key, values in surface.items()
                })
                rows.append((name, int(keep.sum()), subset))
                metrics.update({f'{name}/{k}': v for k, v in subset.items()})
        self._log_table(rows)

        if self.output_dir is not None:
            self._write_outputs(results, dice, iou, surface_keys)
        return metrics

    @staticmethod
    def _summarize(dice: np.ndarray, iou: np.ndarray, counts: np.ndarray,
                   surface: Dict[str, np.ndarray]) -> Dict[str, float]:
        """Per-image mean/std and pooled Dice/IoU, in percent, then the
        per-image mean/std of each surface metric."""
        global_dice, global_iou = dice_iou(*counts.sum(axis=0))
        values = (dice.mean(), dice.std(), iou.mean(), iou.std(), global_dice,
                  global_iou)
        summary = OrderedDict((key, float(value) * 100)
                              for key, value in zip(METRIC_KEYS, values))
        for key, per_image in surface.items():
            summary[f'm{key}'] = float(per_image.mean())
            summary[f'm{key}_std'] = float(per_image.std())
        return summary

    @staticmethod
    def _log_table(rows: List[Tuple[str, int, Dict[str, float]]]) -> None:
        keys = list(rows[0][2])
        table = PrettyTable(field_names=['dataset', 'images'] + keys)
        for name, num_images, values in rows:
            table.add_row([name, num_images] +
                          [f'{values[key]:.2f}' for key in keys])
        print_log(
            'per-image mean ± std (population) and pooled (g) Dice/IoU, '
            '%:\n' + table.get_string(),
            logger='current')

    def _write_outputs(self, results: List[dict], dice: np.ndarray,
                       iou: np.ndarray, surface_keys: List[str]) -> None:
        """Name the saved masks and write ``per_image_metrics.csv``."""
        mkdir_or_exist(self.output_dir)
        names = move_to_output_names(self.output_dir,
                                     [r['partial_file'] for r in results],
                                     results)
        csv_file = path_inside(self.output_dir, 'per_image_metrics.csv')
        with open(csv_file, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(('mask_name', 'output_file', 'dataset_name',
                             'prompt_key', 'text', 'dice', 'iou') +
                            tuple(key.lower() for key in surface_keys))
            for record, name, d, i in zip(results, names, dice, iou):
                writer.writerow((record['mask_name'], name,
                                 record['dataset_name'], record['prompt_key'],
                                 record['text'], f'{d * 100:.4f}',
                                 f'{i * 100:.4f}') +
                                tuple(f'{record[key]:.4f}'
                                      for key in surface_keys))
        print_log(
            f'predicted masks and {csv_file} saved to {self.output_dir}',
            logger='current')
        escaped = sorted({
            r['mask_name']
            for r in results if safe_relative_path(r['mask_name'])[1]
        })
        if escaped:
            print_log(
                f'{len(escaped)} mask names point outside {self.output_dir} '
                f'(e.g. {escaped[:3]}); their predictions were saved under '
                'it instead, see the output_file column of '
                'per_image_metrics.csv.',
                logger='current',
                level=logging.WARNING)
