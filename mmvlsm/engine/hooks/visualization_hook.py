# Copyright (c) OpenMMLab. All rights reserved.
import logging
import os.path as osp
import textwrap
from functools import lru_cache
from typing import FrozenSet, List, Optional, Sequence

import cv2
import mmcv
import numpy as np
from mmengine.dist import all_gather_object, barrier, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from PIL import Image, ImageDraw, ImageFont

from mmvlsm.datasets.transforms import LoadCheckedImageFromFile
from mmvlsm.evaluation import dice_iou
from mmvlsm.registry import HOOKS
from mmvlsm.utils.paths import (move_to_output_names, output_keys,
                                write_partial)


@lru_cache(maxsize=None)
def _charmap(font_file: str) -> FrozenSet[int]:
    """Code points that ``font_file`` has glyphs for."""
    from matplotlib.ft2font import FT2Font
    try:
        return frozenset(FT2Font(font_file).get_charmap())
    except (OSError, RuntimeError):  # unreadable or not a TrueType font
        return frozenset()


@lru_cache(maxsize=None)
def font_for(text: str) -> str:
    """A TrueType font file with glyphs for every character of ``text``.

    DejaVu Sans (shipped with matplotlib, so always there) covers Latin,
    Greek and Cyrillic with accents; for other scripts (CJK ...) the fonts
    matplotlib finds on the system are searched. If none covers ``text``,
    the one covering most of it is used, the missing characters show as
    boxes, and a warning names them (once per text).

    Args:
        text (str): The text to draw.

    Returns:
        str: Path of the font file.
    """
    from matplotlib import font_manager
    default = font_manager.findfont('DejaVu Sans', fallback_to_default=True)
    needed = {ord(char) for char in text if not char.isspace()}
    if needed <= _charmap(default):
        return default
    # 'Last Resort' maps every character to a box, which helps no one.
    candidates = [default] + sorted({
        font.fname
        for font in font_manager.fontManager.ttflist
        if not font.name.startswith('Last Resort')
    })
    # The first font with the most glyphs, i.e. DejaVu Sans on a tie.
    best = max(candidates, key=lambda f: len(needed & _charmap(f)))
    missing = ''.join(sorted(map(chr, needed - _charmap(best))))
    if missing:
        print_log(
            f'VLSMVisualizationHook: no installed font has glyphs for '
            f'{missing!r} of the prompt {text!r}; they are drawn as boxes. '
            'Install a font that has them (e.g. Noto Sans CJK) to see them.',
            logger='current',
            level=logging.WARNING)
    return best


@HOOKS.register_module()
class VLSMVisualizationHook(Hook):
    """Save an overlay per test sample: prediction, GT contour and prompt.

    Each overlay is the original image with the predicted mask blended in
    red, the ground-truth contour in green, and a black banner above it with
    the prompt (wrapped, at most ``MAX_LINES`` lines) and the per-image Dice
    and IoU (same definition as :class:`DiceIoUMetric`). Images narrower
    than ``MIN_WIDTH`` are padded on the right so the banner stays readable;
    the image itself is kept at its original resolution in the bottom-left
    corner. The prompt is drawn with a TrueType font that has its
    characters (see :func:`font_for`). The file is
    ``out_dir/<mask_name stem>.png`` (sub-folders of ``mask_name`` are
    kept), named as :class:`DiceIoUMetric` names the masks
    (:func:`mmvlsm.utils.paths.output_names`: shared names get the prompt
    key, names pointing outside ``out_dir`` go under
    ``out_dir/_outside/``); overlays are written to ``out_dir/.partial/``
    and named at the end of the test (or validation). Validation overlays go
    to ``out_dir/iter_<runner.iter>/`` so that later rounds do not
    overwrite earlier ones.

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
        # Overlays written since the last epoch end: (file, sample keys).
        self._partial: List[tuple] = []

    def after_val_iter(
            self,
            runner: Runner,
            batch_idx: int,
            data_batch: Optional[dict] = None,
            outputs: Optional[Sequence[SegDataSample]] = None) -> None:
        """Draw the batch's samples if ``draw_val`` is set."""
        if self.draw_val:
            self._draw_batch(
                batch_idx, outputs,
                osp.join(self._out_dir(runner), f'iter_{runner.iter}'))

    def after_test_iter(
            self,
            runner: Runner,
            batch_idx: int,
            data_batch: Optional[dict] = None,
            outputs: Optional[Sequence[SegDataSample]] = None) -> None:
        """Draw the batch's samples."""
        self._draw_batch(batch_idx, outputs, self._out_dir(runner))

    def after_val_epoch(self,
                        runner: Runner,
                        metrics: Optional[dict] = None) -> None:
        """Name the overlays of this validation round."""
        if self.draw and self.draw_val:
            self._name_overlays(
                osp.join(self._out_dir(runner), f'iter_{runner.iter}'))

    def after_test_epoch(self,
                         runner: Runner,
                         metrics: Optional[dict] = None) -> None:
        """Name the overlays of the test."""
        if self.draw:
            self._name_overlays(self._out_dir(runner))

    def _out_dir(self, runner: Runner) -> str:
        return self.out_dir or osp.join(runner.work_dir, 'vis')

    def _draw_batch(self, batch_idx: int, outputs: Sequence[SegDataSample],
                    out_dir: str) -> None:
        if not (self.draw
                and self.every_n_inner_iters(batch_idx, self.interval)):
            return
        for sample in outputs:
            partial = write_partial(out_dir, self.draw_sample(sample),
                                    len(self._partial))
            self._partial.append((partial, output_keys(sample)))

    def _name_overlays(self, out_dir: str) -> None:
        """Move the overlays of every rank to their names in ``out_dir``."""
        gathered = [
            item for items in all_gather_object(self._partial)
            for item in items
        ]
        self._partial = []
        if is_main_process() and gathered:
            files, samples = zip(*gathered)
            move_to_output_names(out_dir, files, samples)
        barrier()

    def draw_sample(self, sample: SegDataSample) -> np.ndarray:
        """Draw one sample.

        Args:
            sample (SegDataSample): A model output with ``img_path``,
                ``pred_sem_seg`` and optionally ``gt_sem_seg`` (both
                (1, H, W)) and ``text``.

        Returns:
            np.ndarray: The overlay of :meth:`draw_overlay`.
        """
        # As the test pipeline reads it: 16-bit scaled, grey made BGR.
        img = LoadCheckedImageFromFile()(dict(img_path=sample.img_path))['img']
        shape = img.shape[:2]
        gt = self._mask(sample.gt_sem_seg,
                        shape) if 'gt_sem_seg' in sample else None
        return self.draw_overlay(img, self._mask(sample.pred_sem_seg, shape),
                                 str(sample.get('text', '')), gt, self.alpha)

    @classmethod
    def draw_overlay(cls,
                     img: np.ndarray,
                     pred: np.ndarray,
                     text: str = '',
                     gt: Optional[np.ndarray] = None,
                     alpha: float = 0.5) -> np.ndarray:
        """Draw a prediction, optionally a GT contour, and the prompt.

        Shared by the hook and ``tools/infer.py``, which has no ground
        truth.

        Args:
            img (np.ndarray): uint8 BGR image of shape (H, W, 3).
            pred (np.ndarray): (H, W) bool, the predicted mask.
            text (str): The prompt written in the banner. Defaults to ''.
            gt (np.ndarray, optional): (H, W) bool ground truth; its contour
                and the Dice and IoU are drawn. Defaults to None.
            alpha (float): Opacity of the prediction colour, in [0, 1].
                Defaults to 0.5.

        Returns:
            np.ndarray: The BGR uint8 overlay of shape
            (banner height + H, max(W, MIN_WIDTH), 3).
        """
        height, width = img.shape[:2]
        overlay = img.copy()
        overlay[pred] = ((1 - alpha) * img[pred] +
                         alpha * np.array(cls.PRED_COLOR)).round()

        banner_width = max(width, cls.MIN_WIDTH)
        font = cls._font(text, banner_width)
        lines = cls._wrap(text, font, banner_width)
        if gt is not None:
            contours, _ = cv2.findContours(
                gt.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(overlay, contours, -1, cls.GT_COLOR,
                             max(1,
                                 min(height, width) // 256))
            dice, iou = dice_iou((pred & gt).sum(), pred.sum(), gt.sum())
            lines.append(f'Dice {dice * 100:.2f} | IoU {iou * 100:.2f}')

        banner = cls._banner(lines, font, banner_width)
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
    def _font(text: str, width: int) -> ImageFont.FreeTypeFont:
        """A font for ``text`` whose size grows with the banner width."""
        return ImageFont.truetype(font_for(text), max(12, round(width / 40)))

    @classmethod
    def _wrap(cls, text: str, font: ImageFont.FreeTypeFont,
              width: int) -> List[str]:
        """Wrap ``text`` to the banner width, at most ``MAX_LINES - 1`` lines
        (the last one is for the scores)."""
        if not text:
            return []
        char_width = font.getlength(text) / len(text)
        return textwrap.wrap(
            text,
            width=max(8, int((width - 8) / char_width)),
            max_lines=cls.MAX_LINES - 1,
            placeholder='...')

    @staticmethod
    def _banner(lines: List[str], font: ImageFont.FreeTypeFont,
                width: int) -> np.ndarray:
        """White text on black, one row per line, BGR uint8."""
        ascent, descent = font.getmetrics()
        line_height = ascent + descent + 4
        banner = Image.new('RGB',
                           (width, line_height * max(len(lines), 1) + 4))
        draw = ImageDraw.Draw(banner)
        for i, line in enumerate(lines):
            draw.text((4, 4 + i * line_height),
                      line,
                      fill=(255, 255, 255),
                      font=font)
        # White on black: the same in RGB and BGR.
        return np.asarray(banner).copy()
