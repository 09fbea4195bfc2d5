# Copyright (c) OpenMMLab. All rights reserved.
"""What the web demo shows, computed without a web framework.

:class:`DemoModel` wraps a model from :func:`~mmvlsm.apis.init_model` and
segments (or classifies) an uploaded file through
:func:`~mmvlsm.apis.inference_model`, the path of ``tools/infer.py``; the
functions around it draw what the page shows: the overlay with one colour
per prompt and its legend, the probability heat map, the mask file, the
class probabilities, and the message for an upload that cannot be used.
"""
import html
import os
import os.path as osp
import threading
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config

from mmvlsm.apis import (class_names, combine_prompts, foreground_probability,
                         inference_classifier, inference_model,
                         is_volume_input, load_image, prompted_by_class,
                         resolve_class)
from mmvlsm.apis.volume_inference import VolumeSegmentation, model_dims
from mmvlsm.datasets.volumes import (CT_WINDOWS, VolumeError, parse_window,
                                     read_volume, slice_layout, write_volume)
from mmvlsm.utils.paths import write_png_atomic

# RGB colours of prompts 1..K, far apart in hue (the first ten of
# Sasha Trubetskoy's list of distinct colours).
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (255, 225, 25),
           (145, 30, 180), (245, 130, 48), (70, 240, 240), (240, 50, 230),
           (210, 245, 60), (250, 190, 212))
# Upload types offered by the page; anything else is refused with a message.
IMAGE_TYPES = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')
VOLUME_TYPES = ('.nii', '.nii.gz', '.mha', '.nrrd')
# The window choice that stands for the config's own (else percentiles).
CONFIG_WINDOW = 'config default'
WINDOWS = (CONFIG_WINDOW, ) + tuple(CT_WINDOWS) + ('percentile', )


class DemoInputError(ValueError):
    """An input the page cannot use; its message is shown as it is."""


def colours(num: int) -> List[Tuple[int, int, int]]:
    """RGB colours of ``num`` prompts (the palette repeats after ten)."""
    return [PALETTE[k % len(PALETTE)] for k in range(num)]


def parse_prompts(text: Optional[str]) -> List[str]:
    """Prompts typed in one box: one per line, or separated by ``;``.

    Raises:
        DemoInputError: If none is given or one is given twice.
    """
    prompts = [
        p.strip() for line in (text or '').splitlines()
        for p in line.split(';') if p.strip()
    ]
    if not prompts:
        raise DemoInputError('Type a prompt (several: one per line, or '
                             'separated by ";").')
    repeated = sorted({p for p in prompts if prompts.count(p) > 1})
    if repeated:
        raise DemoInputError(f'Prompt given twice: {", ".join(repeated)}.')
    return prompts


def to_rgb(image: np.ndarray) -> np.ndarray:
    """A loader's uint8 image, (H, W) grey or (H, W, 3) BGR, as RGB."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def draw_overlay(image: np.ndarray,
                 labels: np.ndarray,
                 alpha: float = 0.5) -> np.ndarray:
    """Colour label ``k`` of a label map with the ``k``-th colour.

    Args:
        image (np.ndarray): uint8 RGB image of shape (H, W, 3).
        labels (np.ndarray): (H, W) label map, 0 the background.
        alpha (float): Opacity of the colours. Defaults to 0.5.

    Returns:
        np.ndarray: uint8 RGB overlay of shape (H, W, 3).
    """
    if labels.shape != image.shape[:2]:
        raise ValueError(f'labels of shape {labels.shape} for an image of '
                         f'shape {image.shape}')
    out = image.copy()
    for k, colour in enumerate(colours(int(labels.max())), 1):
        where = labels == k
        out[where] = ((1 - alpha) * image[where] +
                      alpha * np.array(colour)).round().astype(np.uint8)
    return out


def legend_html(names: Sequence[str]) -> str:
    """The overlay's legend: a swatch of each prompt's colour and its
    name (escaped)."""
    items = ''.join(
        '<span style="margin-right:1em;white-space:nowrap">'
        f'<span style="display:inline-block;width:0.9em;height:0.9em;'
        f'background:rgb{colour};border:1px solid #444;margin-right:0.3em;'
        f'vertical-align:middle"></span>{html.escape(name)}</span>'
        for name, colour in zip(names, colours(len(names))))
    return f'<div class="mmvlsm-legend">{items}</div>'


def heat_map(image: np.ndarray,
             probability: np.ndarray,
             alpha: float = 0.6) -> np.ndarray:
    """A probability map in the jet colours over the image.

    Args:
        image (np.ndarray): uint8 RGB image of shape (H, W, 3).
        probability (np.ndarray): (H, W) values in [0, 1].
        alpha (float): Opacity of the colours. Defaults to 0.6.

    Returns:
        np.ndarray: uint8 RGB image of shape (H, W, 3).
    """
    scaled = (np.clip(probability, 0, 1) * 255).round().astype(np.uint8)
    colour = cv2.cvtColor(
        cv2.applyColorMap(scaled, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(colour, alpha, image, 1 - alpha, 0)


def enlarge(image: np.ndarray, min_side: int) -> np.ndarray:
    """An image to be seen on the page: scaled up by an integer factor
    (nearest neighbour, so pixels stay pixels) until its longer side
    reaches ``min_side``; larger images as they are."""
    factor = min_side // max(image.shape[:2])
    if factor < 2:
        return image
    return cv2.resize(
        image, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)


def mask_image(labels: np.ndarray, num_prompts: int) -> np.ndarray:
    """The mask file's pixels as ``tools/infer.py`` writes them: 0/255 for
    one prompt, the label map 0..K for K."""
    labels = labels.astype(np.uint8)
    return labels * 255 if num_prompts == 1 else labels


@dataclass
class ImageResult:
    """One image segmented for K prompts.

    Attributes:
        image (np.ndarray): (H, W, 3) uint8 RGB, as the model's loader read
            it.
        labels (np.ndarray): (H, W) uint8 label map, 0..K.
        probabilities (np.ndarray): (K, H, W) float32 per prompt.
        names (list[str]): The legend's name of each label 1..K.
    """

    image: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray
    names: List[str]


@dataclass
class VolumeView:
    """A segmented volume, as slices to show.

    Attributes:
        result (VolumeSegmentation): What :func:`inference_model` returned.
        slices (np.ndarray): (n, rows, cols) uint8, the windowed slices.
        labels (np.ndarray): (n, rows, cols) label maps, a view of the mask.
        probabilities (np.ndarray): (K, n, rows, cols) float16.
    """

    result: VolumeSegmentation
    slices: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray

    def busiest_slice(self) -> int:
        """The slice with the most foreground (the middle one if none)."""
        counts = (self.labels > 0).reshape(len(self.labels), -1).sum(1)
        return int(counts.argmax()) if counts.any() else len(counts) // 2

    def show(self, index: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Slice ``index``: the image, its overlay and the heat map of the
        most probable prompt (RGB)."""
        index = int(np.clip(index, 0, len(self.slices) - 1))
        image = cv2.cvtColor(
            np.ascontiguousarray(self.slices[index]), cv2.COLOR_GRAY2RGB)
        labels = np.ascontiguousarray(self.labels[index])
        probability = self.probabilities[:, index].astype(np.float32).max(0)
        return (image, draw_overlay(image,
                                    labels), heat_map(image, probability))


def describe_error(err: BaseException, name: str) -> str:
    """The page's message for an upload that failed: what and why, no
    stack trace."""
    if isinstance(err, DemoInputError):
        return str(err)
    reason = str(err).strip() or type(err).__name__
    return f'Could not use {name}: {reason}'


def check_upload(path: Optional[str], volumes: bool, images: bool) -> str:
    """The uploaded file's path, if its type is one the model takes.

    Raises:
        DemoInputError: If nothing was uploaded or the type is not taken.
    """
    if not path:
        raise DemoInputError('Upload an image' +
                             (' or a volume.' if volumes else '.'))
    name = osp.basename(path).lower()
    taken = (IMAGE_TYPES if images else ()) + (VOLUME_TYPES if volumes else ())
    if not name.endswith(taken):
        raise DemoInputError(
            f'{osp.basename(path)} is not a file this model takes: upload '
            f'{", ".join(taken)}.')
    return path


def trained_on(cfg: Config) -> str:
    """What the config trains on: its dataset type, folder and split."""
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    while 'dataset' in dataset:  # wrappers (repeat, concat of one)
        dataset = dataset['dataset']
    if not dataset:
        return 'not stated by the config'
    parts = [str(dataset.get('type', 'a dataset'))]
    if dataset.get('data_root'):
        parts.append(f'in `{dataset["data_root"]}`')
    if dataset.get('ann_file'):
        parts.append(f'(`{dataset["ann_file"]}`)')
    return ' '.join(parts)


class DemoModel:
    """A model as the demo serves it: what it is prompted by, and one
    request at a time through the inference API.

    Args:
        model (nn.Module): From :func:`~mmvlsm.apis.init_model`.
        config (str): The config file, shown on the page.
        checkpoint (str): The checkpoint file, shown on the page.
        out_dir (str): Where mask files are written (a temporary folder).
    """

    def __init__(self, model: torch.nn.Module, config: str, checkpoint: str,
                 out_dir: str) -> None:
        self.model = model
        self.cfg = model.cfg
        self.config = config
        self.checkpoint = checkpoint
        self.out_dir = out_dir
        self.classifier = self.cfg.get('default_scope') == 'mmvlsm_cls'
        self.by_class = not self.classifier and prompted_by_class(model)
        self.dims = 2 if self.classifier else model_dims(model)
        self.classes = (
            list(model.head.texts) if self.classifier else
            (class_names(self.cfg) or [])[1:])
        test_cfg = getattr(model, 'test_cfg', None) or {}
        self.threshold = (None if self.classifier or self.by_class else float(
            test_cfg.get('threshold', 0.5)))
        # The threshold lives in the model's test_cfg: requests take turns.
        self._lock = threading.Lock()
        self._count = 0

    @property
    def kind(self) -> str:
        """``'classifier'``, ``'class'`` or ``'text'``."""
        if self.classifier:
            return 'classifier'
        return 'class' if self.by_class else 'text'

    @property
    def takes_images(self) -> bool:
        return self.dims == 2

    @property
    def takes_volumes(self) -> bool:
        return not self.classifier

    def card(self) -> str:
        """The model's name, config, checkpoint and training data
        (markdown)."""
        name = osp.splitext(osp.basename(self.config))[0]
        lines = [
            f'**Model** `{name}` ({self.cfg.model["type"]})',
            f'**Config** `{self.config}`',
            f'**Checkpoint** `{self.checkpoint}`',
            f'**Trained on** {trained_on(self.cfg)}',
        ]
        if self.threshold is not None:
            lines.append(f'**Threshold** {self.threshold:g} (config)')
        if self.classes:
            label = 'Classes' if self.classifier else 'Class prompts'
            lines.append(f'**{label}** {", ".join(self.classes)}')
        return '  \n'.join(lines)

    def prompts(self, text: Optional[str],
                chosen: Optional[Sequence[str]]) -> Tuple[list, List[str]]:
        """The prompts (class indices for class-prompted models) and their
        names, from the prompt box or the class menu."""
        if not self.by_class:
            names = parse_prompts(text)
            return names, names
        if not chosen:
            raise DemoInputError('Choose a class.')
        names = class_names(self.cfg)
        return [resolve_class(names, c)[0] for c in chosen], list(chosen)

    def _out_file(self, name: str, extension: str) -> str:
        self._count += 1
        folder = osp.join(self.out_dir, str(self._count))
        os.makedirs(folder, exist_ok=True)
        stem = name.split('.')[0] or 'mask'
        return osp.join(folder, f'{stem}_mask{extension}')

    def _set_threshold(self, threshold: Optional[float]) -> None:
        if self.threshold is not None and threshold is not None:
            if not 0 < threshold < 1:
                raise DemoInputError('The threshold lies strictly between 0 '
                                     f'and 1, got {threshold:g}.')
            self.model.test_cfg['threshold'] = float(threshold)

    def segment_image(self, path: str, prompts: list, names: List[str],
                      threshold: Optional[float]) -> Tuple[ImageResult, str]:
        """Segment a 2D image for each prompt.

        Returns:
            tuple[ImageResult, str]: The result and the mask file (PNG).
        """
        with self._lock:
            self._set_threshold(threshold)
            image = load_image(self.model, path)
            samples = inference_model(self.model, [image] * len(prompts),
                                      prompts)
        masks = [s.pred_sem_seg.data[0].cpu().numpy() for s in samples]
        probs = np.stack(
            [foreground_probability(s).cpu().numpy() for s in samples])
        labels = combine_prompts(masks, probs)
        result = ImageResult(to_rgb(image), labels, probs, names)
        out = self._out_file(osp.basename(path), '.png')
        write_png_atomic(out, mask_image(labels, len(prompts)))
        return result, out

    def segment_volume(self, path: str, prompts: list, names: List[str],
                       threshold: Optional[float], axis: str,
                       window: str) -> Tuple[VolumeView, str]:
        """Segment a volume for each prompt (slice by slice for 2D models).

        Returns:
            tuple[VolumeView, str]: The slices to show and the mask file
            (NIfTI).
        """
        spec = None if window == CONFIG_WINDOW else window
        volume = read_volume(path)
        with self._lock:
            self._set_threshold(threshold)
            result = inference_model(
                self.model,
                volume,
                prompts,
                axis=axis,
                window=spec,
                return_probs=True)
        result.names = list(names)
        if volume.array.ndim == 2:
            layout_stack = lambda a: a[None]  # noqa: E731
        else:
            layout = slice_layout(volume.image.GetDirection(), result.axis)
            layout_stack = layout.stack
        rule = parse_window(
            spec if spec is not None else self.cfg.get('volume_window'))
        windowed = rule.resolve(volume.array).to_uint8(volume.array)
        view = VolumeView(
            result, layout_stack(windowed), layout_stack(result.mask_array),
            np.stack([layout_stack(p) for p in result.probabilities]))
        out = self._out_file(osp.basename(path), '.nii.gz')
        write_volume(result.mask, out)
        return view, out

    def segment(
        self,
        path: Optional[str],
        text: Optional[str],
        chosen: Optional[Sequence[str]],
        threshold: Optional[float],
        axis: str = 'axial',
        window: str = CONFIG_WINDOW
    ) -> Tuple[Union[ImageResult, VolumeView], str]:
        """Check an upload and segment it (an image or a volume).

        Raises:
            DemoInputError: With the message for the page, whatever failed
                in reading or segmenting the upload.
        """
        path = check_upload(path, self.takes_volumes, self.takes_images)
        prompts, names = self.prompts(text, chosen)
        try:
            if is_volume_input(path):
                return self.segment_volume(path, prompts, names, threshold,
                                           axis, window)
            return self.segment_image(path, prompts, names, threshold)
        except (ValueError, TypeError, OSError, VolumeError) as err:
            raise DemoInputError(describe_error(err,
                                                osp.basename(path))) from err

    def classify(self,
                 path: Optional[str]) -> Tuple[np.ndarray, Dict[str, float]]:
        """A classifier's class probabilities for an uploaded image.

        Returns:
            tuple[np.ndarray, dict]: The image (RGB) and class name ->
            probability.
        """
        path = check_upload(path, False, True)
        try:
            with self._lock:
                sample = inference_classifier(self.model, path)
            image = cv2.imread(path, cv2.IMREAD_COLOR)
        except (ValueError, TypeError, OSError) as err:
            raise DemoInputError(describe_error(err,
                                                osp.basename(path))) from err
        return to_rgb(image), class_scores(sample, self.classes)


def class_scores(sample, names: Sequence[str]) -> Dict[str, float]:
    """Class name -> probability from a classifier's ``pred_score``."""
    scores = sample.pred_score.float().cpu().tolist()
    if len(scores) != len(names):
        raise ValueError(f'{len(scores)} class scores for {len(names)} '
                         'class names')
    return dict(zip(names, scores))


def dataset_examples(cfg: Config, num: int) -> List[Tuple[str, str]]:
    """Up to ``num`` images of the config's test set with their prompts
    (``''`` for models without text prompts), if the set is on disk."""
    from mmvlsm.registry import DATASETS
    dataset_cfg = cfg.get('test_dataloader', {}).get('dataset')
    if not dataset_cfg or num < 1:
        return []
    try:
        dataset = DATASETS.build(dataset_cfg)
    except (OSError, ValueError, KeyError):  # not downloaded or converted
        return []
    examples = []
    for i in range(min(num, len(dataset))):
        info = dataset.get_data_info(i)
        if osp.isfile(info.get('img_path', '')):
            examples.append((info['img_path'], str(info.get('text', ''))))
    return examples
