# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
import textwrap
from typing import List, Optional, Sequence

import cv2
import mmcv
import numpy as np
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmvlsm.evaluation import dice_iou
from mmvlsm.registry import HOOKS


@HOOKS.register_module()
class VLSMVisualizationHook(Hook):
    """Save an overlay per test sample: prediction, GT contour and prompt.

    Each overlay is the original image with the predicted mask blended in
    red, the ground-truth contour in green, and a black banner above it with
    the prompt (wrapped, at most ``MAX_LINES`` lines) and the per-image Dice
    and IoU (same definition as :class:`DiceIoUMetric`). Images narrower
    than ``MIN_WIDTH`` are padded on the right so the banner stays readable;
    the image itself is kept at its original resolution in the bottom-left
    corner. The file is ``out_dir/<mask_name stem>.png`` (sub-folders of
    ``mask_name`` are kept); validation overlays go to
    ``out_dir/iter_<runner.iter>/`` so that later rounds do not overwrite
    earlier ones.

    Args:
        draw (bool): Whether to draw at all; configs keep it off and
            ``tools/test.py --show-dir`` switches it on. Defaults to False.
        out_dir (str, optional): Output directory, used as given (absolute
            or relative to the current directory). None means
            ``<runner.work_dir>/vis``. Defaults to None.
        interval (int): Draw the samples of every ``interval``-th batch.
            Defaults to 1.
        alpha (float): Opacity of the prediction colour, in [0, 1].
            Defaults to 0.5.
        draw_val (bool): Whether to draw during validation too.
            Defaults to False.
    """

    PRED_COLOR = (0, 0, 255)  # BGR red
    GT_COLOR = (0, 255, 0)  # BGR green
    MIN_WIDTH = 320
    MAX_LINES = 4

    def __init__(self,
                 draw: bool = False,
                 out_dir: Optional[str] = None,
                 interval: int = 1,
                 alpha: float = 0.5,
                 draw_val: bool = False) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        if not 0 <= alpha <= 1:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        self.draw = draw
        self.out_dir = out_dir
        self.interval = interval
        self.alpha = alpha
        self.draw_val = draw_val

    def after_val_iter(
            self,
            runner: Runner,
            batch_idx: int,
            data_batch: Optional[dict] = None,
            outputs: Optional[Sequence[SegDataSample]] = None) -> None:
        """Draw the batch's samples if ``draw_val`` is set."""
        if self.draw_val:
            self._draw_batch(runner, batch_idx, outputs, f'iter_{runner.iter}')

    def after_test_iter(
            self,
            runner: Runner,
            batch_idx: int,
            data_batch: Optional[dict] = None,
            outputs: Optional[Sequence[SegDataSample]] = None) -> None:
        """Draw the batch's samples."""
        self._draw_batch(runner, batch_idx, outputs, '')

    def _draw_batch(self, runner: Runner, batch_idx: int,
                    outputs: Sequence[SegDataSample], sub_dir: str) -> None:
        if not (self.draw
                and self.every_n_inner_iters(batch_idx, self.interval)):
            return
        out_dir = osp.join(
            self.out_dir or osp.join(runner.work_dir, 'vis'), sub_dir)
        for sample in outputs:
            mask_name = sample.get('mask_name', osp.basename(sample.img_path))
            out_file = osp.join(out_dir, osp.splitext(mask_name)[0] + '.png')
            if not mmcv.imwrite(self.draw_sample(sample), out_file):
                raise OSError(f'could not write {out_file}')

    def draw_sample(self, sample: SegDataSample) -> np.ndarray:
        """Draw one sample.

        Args:
            sample (SegDataSample): A model output with ``img_path``,
                ``pred_sem_seg`` and optionally ``gt_sem_seg`` (both
                (1, H, W)) and ``text``.

        Returns:
            np.ndarray: The BGR uint8 overlay of shape
            (banner height + H, max(W, MIN_WIDTH), 3).
        """
        # 'color' makes grayscale images 3-channel.
        img = mmcv.imread(sample.img_path, flag='color')
        height, width = img.shape[:2]
        pred = self._mask(sample.pred_sem_seg, (height, width))
        overlay = img.copy()
        overlay[pred] = ((1 - self.alpha) * img[pred] +
                         self.alpha * np.array(self.PRED_COLOR)).round()

        lines = self._wrap(
            str(sample.get('text', '')), max(width, self.MIN_WIDTH))
        if 'gt_sem_seg' in sample:
            gt = self._mask(sample.gt_sem_seg, (height, width))
            contours, _ = cv2.findContours(
                gt.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(overlay, contours, -1, self.GT_COLOR,
                             max(1,
                                 min(height, width) // 256))
            dice, iou = dice_iou((pred & gt).sum(), pred.sum(), gt.sum())
            lines.append(f'Dice {dice * 100:.2f} | IoU {iou * 100:.2f}')

        banner = self._banner(lines, max(width, self.MIN_WIDTH))
        canvas = np.zeros((banner.shape[0] + height, banner.shape[1], 3),
                          dtype=np.uint8)
        canvas[:banner.shape[0]] = banner
        canvas[banner.shape[0]:, :width] = overlay
        return canvas

    @staticmethod
    def _mask(pixel_data: PixelData, shape: tuple) -> np.ndarray:
        """(1, H, W) labels -> (H, W) bool at the image size."""
        mask = pixel_data.data.squeeze(0).cpu().numpy() != 0
        if mask.shape != shape:
            # Only a broken pipeline gets here; still draw something.
            mask = mmcv.imresize(
                mask.astype(np.uint8), shape[::-1],
                interpolation='nearest') > 0
        return mask

    @staticmethod
    def _font(width: int) -> tuple:
        """Font scale and thickness that grow with the banner width."""
        scale = max(0.5, width / 1000)
        return scale, max(1, int(scale * 2))

    def _wrap(self, text: str, width: int) -> List[str]:
        """Wrap ``text`` to the banner width, at most ``MAX_LINES - 1`` lines
        (the last one is for the scores)."""
        scale, thickness = self._font(width)
        alphabet = 'abcdefghijklmnopqrstuvwxyz'
        char_width = cv2.getTextSize(alphabet, cv2.FONT_HERSHEY_SIMPLEX, scale,
                                     thickness)[0][0] / len(alphabet)
        # Hershey fonts only have ASCII glyphs.
        text = text.encode('ascii', 'replace').decode()
        return textwrap.wrap(
            text,
            width=max(8, int((width - 8) / char_width)),
            max_lines=self.MAX_LINES - 1,
            placeholder='...')

    def _banner(self, lines: List[str], width: int) -> np.ndarray:
        """White text on black, one row per line."""
        scale, thickness = self._font(width)
        (_, text_height), baseline = cv2.getTextSize('Ag',
                                                     cv2.FONT_HERSHEY_SIMPLEX,
                                                     scale, thickness)
        line_height = text_height + baseline + 4
        banner = np.zeros((line_height * max(len(lines), 1) + 4, width, 3),
                          dtype=np.uint8)
        for i, line in enumerate(lines):
            cv2.putText(banner, line, (4, 4 + text_height + i * line_height),
                        cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                        thickness, cv2.LINE_AA)
        return banner
