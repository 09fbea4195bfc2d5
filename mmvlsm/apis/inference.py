# Copyright (c) OpenMMLab. All rights reserved.
"""Segment an image by a text prompt with a trained model."""
import os
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import SimpleITK as sitk
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.runner import load_checkpoint
from mmpretrain.structures import DataSample
from mmseg.structures import SegDataSample
from PIL import Image

from mmvlsm.datasets.transforms.loading import to_uint8
from mmvlsm.datasets.volumes import (Volume, choose_frame_component,
                                     is_dicom_file, read_volume,
                                     volume_extension)
from mmvlsm.registry import MODELS
from mmvlsm.utils import bind_prompt_tokenizer
from .volume_inference import (VolumeSegmentation, model_dims, segment_volume,
                               segment_volume_3d)

PathInput = Union[str, os.PathLike]
ImageInput = Union[PathInput, Image.Image, np.ndarray, sitk.Image]
# A text prompt, or a class (name or index) for class-prompted models.
Prompt = Union[str, int]
PromptInput = Union[Prompt, Sequence[Union[Prompt, Sequence[Prompt]]]]
ACCEPTED = ('a path, a PIL image, or a numpy array of shape (H, W), '
            '(H, W, 1), (H, W, 3) (BGR) or (H, W, 4) (BGRA) with dtype '
            'uint8, uint16 or float in [0, 1]')
# PIL modes read as they are: 16-bit ('I' is how PIL opens some 16-bit
# PNGs) and float; every other mode is converted to 'L' or 'RGB'.
PIL_NUMERIC_MODES = ('I', 'I;16', 'I;16B', 'I;16L', 'I;16N', 'F')
# How a colour numpy array's channels are ordered (PIL images are RGB).
CHANNEL_ORDERS = ('bgr', 'rgb')

# Steps of a test pipeline that need a ground truth, which inference lacks.
GT_TRANSFORMS = ('LoadBinaryMask', 'LoadAnnotations', 'BinarizeActiveClass')
IMAGE_LOADERS = ('LoadCheckedImageFromFile', 'LoadImageFromFile')


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu') -> torch.nn.Module:
    """Build a segmentor from a config and load its weights.

    Args:
        config (str | Config): Config file or object.
        checkpoint (str, optional): Checkpoint to load. Defaults to None,
            i.e. the weights the config itself names (``pretrained``).
        device (str): Device to put the model on. Defaults to 'cpu'.

    Returns:
        nn.Module: The model in eval mode, with ``model.cfg`` set.
    """
    if isinstance(config, str):
        config = Config.fromfile(config)
    bind_prompt_tokenizer(config)
    init_default_scope(config.get('default_scope', 'mmvlsm'))
    model = MODELS.build(config.model)
    if checkpoint is not None:
        # Strict: weights of another model must not load half-way.
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.cfg = config
    return model.to(device).eval()


def check_channel_order(channel_order: str) -> None:
    """Check the ``channel_order`` of colour arrays: 'bgr' or 'rgb'."""
    if channel_order not in CHANNEL_ORDERS:
        raise ValueError(
            f'channel_order must be one of {CHANNEL_ORDERS}, got '
            f'{channel_order!r}; use \'rgb\' for arrays from PIL '
            '(np.asarray(image)), \'bgr\' for arrays from cv2/mmcv')


def prepare_image(img: ImageInput,
                  depth_scaling: str = 'range',
                  grayscale: bool = False,
                  channel_order: str = 'bgr') -> Union[str, np.ndarray]:
    """Check an image given to :func:`inference_model` and convert it.

    - A path (str or ``os.PathLike``) is returned as a str, for the
      config's image loader.
    - A PIL image: 16-bit (modes ``I;16*``, and ``I`` within 0..65535) and
      float (``F``) images are read as arrays; any other mode is converted
      to ``L`` (``1``, ``L``, ``LA``) or ``RGB`` (alpha dropped, palettes
      expanded), and RGB becomes BGR.
    - A numpy array is BGR(A) as ``cv2``/``mmcv`` read images, or RGB(A)
      as PIL gives them with ``channel_order='rgb'``: (H, W) or (H, W, 1)
      grey, (H, W, 3) colour, or (H, W, 4) with alpha (dropped, not
      blended); uint8 as is, uint16 scaled to 8 bits by ``depth_scaling``
      (see :func:`mmvlsm.datasets.transforms.loading.to_uint8`, the image
      loader's rule), float in [0, 1] multiplied by 255.

    Args:
        img (str | os.PathLike | PIL.Image.Image | np.ndarray): The image.
        depth_scaling (str): ``'range'`` or ``'dtype'``, for 16-bit images.
            Defaults to 'range'.
        grayscale (bool): Return one channel (the config's loader has
            ``color_type='grayscale'``): colour becomes grey as OpenCV
            converts BGR. Defaults to False.
        channel_order (str): The channel order of colour numpy arrays,
            ``'bgr'`` (``cv2.imread``, ``mmcv.imread``) or ``'rgb'``
            (``np.asarray(pil_image)``, ``imageio``, ``skimage``). Paths,
            PIL images and grey arrays do not depend on it. Defaults to
            'bgr'.

    Returns:
        str | np.ndarray: The path, or a uint8 BGR array of shape
        (H, W, 3) ((H, W) with ``grayscale``).

    Raises:
        TypeError: For another type, e.g. a list of images.
        ValueError: For an array of another shape, dtype or value range,
            or a ``channel_order`` other than 'bgr' and 'rgb'.
    """
    check_channel_order(channel_order)
    if isinstance(img, (str, os.PathLike)):
        return os.fspath(img)
    if isinstance(img, (list, tuple)):
        raise TypeError(
            f'a {type(img).__name__} of {len(img)} is not an image; '
            'inference_model takes one image or a flat list of images')
    if isinstance(img, Image.Image):
        if img.mode in PIL_NUMERIC_MODES:
            array = np.asarray(img)
            if img.mode != 'F':
                if array.size and (array.min() < 0 or array.max() > 65535):
                    raise ValueError(
                        f'PIL image of mode {img.mode} has values in '
                        f'[{array.min()}, {array.max()}]; integer images '
                        'must fit in 16 bits')
                array = array.astype(np.uint16)
        elif img.mode in ('1', 'L', 'LA'):
            array = np.asarray(img.convert('L'))
        else:
            rgb = img if img.mode == 'RGB' else img.convert('RGB')
            # OpenCV's conversion is one pass, about ten times faster than
            # a contiguous copy of numpy's reversed view.
            array = cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR)
        name = f'PIL image of mode {img.mode}'
    elif isinstance(img, np.ndarray):
        array, name = img, 'image array'
        if channel_order == 'rgb' and array.ndim == 3 and array.shape[2] in (
                3, 4):
            # RGB(A) to BGR, alpha dropped (a view; copied once below).
            array = array[..., 2::-1]
    else:
        raise TypeError(
            f'inference_model takes {ACCEPTED}; got {type(img).__name__}')
    if not (array.ndim == 2 or array.ndim == 3 and array.shape[2] in
            (1, 3, 4)) or array.size == 0:
        raise ValueError(f'inference_model takes {ACCEPTED}; got a {name} of '
                         f'shape {array.shape}')
    if array.ndim == 3:
        array = array[..., :3] if array.shape[2] > 1 else array[..., 0]
    array = to_uint8(array, depth_scaling, name)
    if grayscale and array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2GRAY)
    elif not grayscale and array.ndim == 2:
        array = cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(array)


def _test_steps(cfg: Config) -> Tuple[List[dict], int]:
    """The model's test pipeline without its ground-truth steps.

    Returns:
        tuple[list[dict], int]: The steps and the index of the image loader.
    """
    steps = [
        step for step in cfg.test_dataloader.dataset.pipeline
        if step['type'] not in GT_TRANSFORMS
    ]
    loader = next(
        (i for i, step in enumerate(steps) if step['type'] in IMAGE_LOADERS),
        None)
    if loader is None:
        raise ValueError(
            'inference_model needs an image loader (one of '
            f'{IMAGE_LOADERS}) in the test pipeline of the model\'s config; '
            f'it has {[step["type"] for step in steps]}')
    return steps, loader


def _grayscale(loader: dict) -> bool:
    return loader.get('color_type') == 'grayscale'


def load_image(model: torch.nn.Module, path: PathInput) -> np.ndarray:
    """Read an image file as the model's test pipeline reads it.

    The config's image loader (with its ``depth_scaling``) decodes the
    file; the result, given to :func:`inference_model`, segments as the
    path itself does, and can be drawn on.

    Args:
        model (nn.Module): A model from :func:`init_model`.
        path (str | os.PathLike): The image file.

    Returns:
        np.ndarray: uint8 BGR image of shape (H, W, 3).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not an image the loader can read.
    """
    if model_dims(model) == 3:
        raise ValueError(f'{os.fspath(path)}: a 3D model segments volumes, '
                         'not 2D images')
    steps, loader = _test_steps(model.cfg)
    step = steps[loader]
    # A loader's float32 output is on the 0..255 scale, which prepare_image
    # refuses; the data preprocessor makes floats of the batch anyway.
    results = Compose([dict(step, to_float32=False)])(
        dict(img_path=os.fspath(path)))
    if results is None:  # a loader with ignore_empty=True
        raise ValueError(f'Cannot read image {os.fspath(path)}')
    return prepare_image(results['img'], step.get('depth_scaling', 'range'),
                         _grayscale(step))


def prompted_by_class(model: torch.nn.Module) -> bool:
    """Whether the model is prompted by a class (PUNet) instead of text."""
    return getattr(model, 'prompt_kind', 'text') == 'class'


def class_names(cfg: Union[Config, dict]) -> Optional[List[str]]:
    """A config's ``class_names`` (index = class, 0 the background)."""
    names = cfg.get('class_names') if cfg is not None else None
    return list(names) if names is not None else None


def resolve_class(names: Optional[Sequence[str]],
                  value: Prompt) -> Tuple[int, str]:
    """A class-prompted model's class from its name or index.

    Args:
        names (Sequence[str], optional): The config's ``class_names``.
        value (str | int): A class name, or an index (int or digits).

    Returns:
        tuple[int, str]: The index and the name (the index as a str when
        the config names no classes).

    Raises:
        ValueError: For an unknown name, the background or an index
            outside the config's classes.
        TypeError: For a value that is neither a name nor an index.
    """
    if isinstance(value, str) and not value.strip().isdigit():
        if names is None:
            raise ValueError(
                f'class {value!r}: the config names no classes (class_names)'
                '; give the class index')
        if value not in names[1:]:
            raise ValueError(f'unknown class {value!r}; the config\'s classes '
                             f'are {", ".join(names[1:])}')
        return list(names).index(value), value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError('a class is a name or an index (int), got '
                        f'{type(value).__name__}')
    index = int(value)
    if index < 1:
        raise ValueError(f'class index {index}: 0 is the background')
    if names is not None and index >= len(names):
        raise ValueError(
            f'class index {index} is not one of the config\'s '
            f'classes 1..{len(names) - 1} ({", ".join(names[1:])})')
    return index, names[index] if names is not None else str(index)


def _check_prompt(model: torch.nn.Module, prompt: object) -> Prompt:
    """A prompt of the model's kind: text, or a class index."""
    if prompted_by_class(model):
        return resolve_class(class_names(model.cfg), prompt)[0]
    if not isinstance(prompt, str):
        raise TypeError('inference_model takes a prompt (a str) for all '
                        'images or one per image; got a '
                        f'{type(prompt).__name__} {prompt!r:.80}')
    return prompt


def _prompts(text: PromptInput, num_images: int,
             single: bool) -> List[Union[Prompt, List[Prompt]]]:
    """One prompt (or list of prompts, for a volume) per input."""
    if single:
        return [text]
    if isinstance(text, (str, int)):
        return [text] * num_images
    if not isinstance(text, (list, tuple)):
        raise TypeError('inference_model takes a prompt or a list of '
                        f'prompts, one per image; got {text!r:.80}')
    if len(text) != num_images:
        raise ValueError(
            f'inference_model got {len(text)} prompts for {num_images} '
            'images; give one prompt for all images or one per image')
    return list(text)


def _predict(model: torch.nn.Module, data: List[dict]) -> List[SegDataSample]:
    """Run pipeline outputs through the model as one batch per input shape.

    The test pipelines of mmvlsm resize every image to the model input, so
    a batch has one shape; a pipeline that keeps aspect ratios gives
    several, and the data preprocessor stacks only equal shapes.
    """
    groups = {}
    for i, item in enumerate(data):
        groups.setdefault(tuple(item['inputs'].shape), []).append(i)
    results = [None] * len(data)
    with torch.no_grad():
        for indices in groups.values():
            batch = dict(
                inputs=[data[i]['inputs'] for i in indices],
                data_samples=[data[i]['data_samples'] for i in indices])
            for i, sample in zip(indices, model.test_step(batch)):
                results[i] = sample
    return results


def _pipelines(model: torch.nn.Module) -> Tuple[Compose, Compose, bool]:
    """The test pipelines from files and from arrays, and whether images
    are grey, built once per model and test pipeline config.

    Building a pipeline builds its tokenizer (a tenth of a second for
    CLIP's BPE), which must not happen once per batch of slices.
    """
    steps, loader = _test_steps(model.cfg)
    key = repr(steps)
    cached = getattr(model, '_inference_pipelines', None)
    if cached is None or cached[0] != key:
        from_file = Compose(steps)
        grayscale = _grayscale(steps[loader])
        # An array is already decoded: it is loaded as mmseg does arrays.
        steps[loader] = dict(type='LoadImageFromNDArray')
        cached = (key, from_file, Compose(steps), grayscale)
        # Not an nn.Module attribute: a plain cache, outside state_dict.
        object.__setattr__(model, '_inference_pipelines', cached)
    return cached[1:]


def _segment_images(model: torch.nn.Module, images: List[Union[str,
                                                               np.ndarray]],
                    prompts: List[Prompt],
                    batch_size: int) -> List[SegDataSample]:
    """The 2D path: prepared images (paths or arrays) with checked prompts,
    ``batch_size`` at a time."""
    from_file, from_array, _ = _pipelines(model)
    by_class = prompted_by_class(model)
    samples = []
    for start in range(0, len(images), batch_size):
        stop = start + batch_size
        data = []
        for one, prompt in zip(images[start:stop], prompts[start:stop]):
            item = dict(active_class=prompt) if by_class else dict(text=prompt)
            if isinstance(one, np.ndarray):
                data.append(from_array(dict(item, img=one)))
            else:
                data.append(from_file(dict(item, img_path=one)))
        samples.extend(_predict(model, data))
    return samples


def _segment_slices(model: torch.nn.Module, slices: List[np.ndarray],
                    prompt: Prompt, batch_size: int) -> List[SegDataSample]:
    """uint8 grey slices of a volume through the 2D path."""
    grayscale = _pipelines(model)[2]
    images = [prepare_image(one, grayscale=grayscale) for one in slices]
    return _segment_images(model, images, [prompt] * len(images), batch_size)


def is_volume_input(img: object,
                    spacing: Optional[Sequence[float]] = None) -> bool:
    """Whether :func:`inference_model` segments ``img`` as a volume: a
    SimpleITK image, an array given with its ``spacing``, a volume file
    (NIfTI, MetaImage, NRRD, DICOM) or a DICOM folder."""
    if isinstance(img, (sitk.Image, Volume)):
        return True
    if isinstance(img, np.ndarray):
        return spacing is not None
    if isinstance(img, (str, os.PathLike)):
        path = os.fspath(img)
        return (os.path.isdir(path) or volume_extension(path) is not None
                or is_dicom_file(path))
    return False


def as_volume(img: Union[PathInput, sitk.Image, np.ndarray],
              spacing: Optional[Sequence[float]] = None,
              series: Optional[str] = None,
              frame: Optional[int] = None,
              component: Optional[int] = None) -> Volume:
    """A :class:`Volume` from a path, a SimpleITK image, or a (z, y, x)
    array with its ``spacing`` (mm, same order; identity direction); a
    :class:`Volume` as it is."""
    if isinstance(img, Volume):
        return img
    if isinstance(img, (str, os.PathLike)):
        return read_volume(img, series, frame, component)
    if isinstance(img, np.ndarray):
        if img.ndim != 3 or 0 in img.shape:
            raise ValueError('a volume array is (z, y, x), got shape '
                             f'{img.shape}')
        if len(spacing) != 3 or not all(float(v) > 0 for v in spacing):
            raise ValueError('spacing is three positive voxel sizes (z, y, '
                             f'x) in mm, got {spacing!r}')
        image = sitk.GetImageFromArray(np.ascontiguousarray(img))
        image.SetSpacing([float(v) for v in reversed(spacing)])
        return Volume(image, f'volume array {img.shape}')
    return Volume(
        choose_frame_component(img, 'SimpleITK image', frame, component),
        'SimpleITK image')


def inference_model(
    model: torch.nn.Module,
    img: Union[ImageInput, Sequence[ImageInput]],
    text: PromptInput,
    batch_size: int = 8,
    *,
    channel_order: str = 'bgr',
    axis: str = 'axial',
    window=None,
    spacing: Optional[Sequence[float]] = None,
    series: Optional[str] = None,
    frame: Optional[int] = None,
    component: Optional[int] = None,
    return_probs: bool = False,
    progress: bool = False
) -> Union[SegDataSample, VolumeSegmentation, List[Union[SegDataSample,
                                                         VolumeSegmentation]]]:
    """Segment what ``text`` describes in ``img``, one input or a list.

    A 2D image is segmented as it is; a volume (a NIfTI, MetaImage, NRRD or
    DICOM path, a SimpleITK image, or an array given with its ``spacing``)
    slice by slice along ``axis`` (see :func:`segment_volume`), and comes
    back as a mask volume with its geometry. A list may mix paths, PIL
    images, arrays and volumes of any sizes: the test pipeline resizes each
    image to the model input, and each mask comes back at its own input's
    original size. A single image is a batch of one.

    Args:
        model (nn.Module): A model from :func:`init_model`.
        img (str | os.PathLike | PIL.Image.Image | np.ndarray | sitk.Image
            | list): One input or a list (or tuple) of them. See
            :func:`prepare_image` for how images are converted; 16-bit
            images follow the config's image loader (``depth_scaling``).
        text (str | int | Sequence): The prompt (a class name or index for
            class-prompted models such as PUNet); for a list, one prompt
            for all inputs or a list with one per input. A volume may take
            a list of prompts: its mask is then a label map 1..K.
        batch_size (int): How many images (slices) go through the model at
            once. Masks do not depend on it. Defaults to 8.
        channel_order (str): How colour numpy arrays are ordered:
            ``'bgr'`` as ``cv2``/``mmcv`` read images (mmseg's convention)
            or ``'rgb'``, e.g. ``np.asarray(pil_image)``. An RGB array
            given as BGR is segmented without error but with red and blue
            swapped. PIL images are RGB whatever this says; paths and grey
            arrays do not depend on it. Defaults to 'bgr'.
        axis (str): Volumes: ``'axial'``, ``'coronal'`` or ``'sagittal'``,
            found from the direction matrix. Defaults to 'axial'.
        window: Volumes: a CT window name (``'abdomen'``, ``'lung'``,
            ``'bone'``, ``'brain'``, ``'soft-tissue'``), ``(level,
            width)``, or ``'percentile'``; None is the config's
            ``volume_window``, else percentiles 0.5-99.5.
        spacing (Sequence[float], optional): Makes a (z, y, x) array a
            volume with this voxel size in mm. Defaults to None.
        series (str, optional): The DICOM series of a folder holding
            several. Defaults to None.
        frame (int, optional): The frame of a 4D volume. Defaults to None.
        component (int, optional): The component of a multi-component
            volume. Defaults to None.
        return_probs (bool): Volumes: keep the probabilities (float16).
            Defaults to False.
        progress (bool): Volumes: a progress bar over the slices. Defaults
            to False.

    Returns:
        SegDataSample | VolumeSegmentation | list: For one input, its
        result; for a list, one per input in the same order. A
        ``SegDataSample`` holds ``pred_sem_seg`` (1, H, W) in {0, 1} and
        ``seg_logits`` at its image's original size; a
        :class:`VolumeSegmentation` the mask volume.

    Raises:
        TypeError: If an image or ``text`` is of a type not accepted.
        ValueError: If an array's shape, dtype or values are not accepted,
            the list is empty, the number of prompts differs from the
            number of images, a class is unknown, ``batch_size`` is below
            1, or ``channel_order`` is neither 'bgr' nor 'rgb'.
        VolumeError: If a volume cannot be read or used.
    """
    single = not isinstance(img, (list, tuple))
    imgs = [img] if single else list(img)
    if not imgs:
        raise ValueError('inference_model got an empty list of images')
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f'batch_size must be an int >= 1, got {batch_size!r}')
    check_channel_order(channel_order)
    texts = _prompts(text, len(imgs), single)
    volumetric = model_dims(model) == 3
    if not volumetric:
        steps, loader = _test_steps(model.cfg)
        depth_scaling = steps[loader].get('depth_scaling', 'range')
        grayscale = _grayscale(steps[loader])
    # Inputs and prompts are checked before anything is segmented (files
    # when read).
    images, volumes = {}, {}
    for i, (one, prompt) in enumerate(zip(imgs, texts)):
        where = '' if single else f'image {i} of the list: '
        try:
            if is_volume_input(one, spacing):
                many = isinstance(prompt, (list, tuple))
                prompts = [_check_prompt(model, p) for p in prompt
                           ] if many else [_check_prompt(model, prompt)]
                if not prompts:
                    raise ValueError('a volume needs at least one prompt')
                volumes[i] = (one, prompts)
            else:
                if volumetric:
                    raise ValueError(
                        'a 3D model segments volumes (a volume file, a '
                        'SimpleITK image or an array with spacing=), not '
                        f'2D images; got {type(one).__name__}')
                if isinstance(prompt, (list, tuple)):
                    raise TypeError(
                        'inference_model takes one prompt for one image, got '
                        f'a {type(prompt).__name__}; a list of prompts per '
                        'input is for volumes (a label map)')
                images[i] = (prepare_image(one, depth_scaling, grayscale,
                                           channel_order),
                             _check_prompt(model, prompt))
        except (TypeError, ValueError) as err:
            if single:
                raise
            raise type(err)(f'{where}{err}') from err

    results: List = [None] * len(imgs)
    order = list(images)
    if order:
        for i, sample in zip(
                order,
                _segment_images(model, [images[i][0] for i in order],
                                [images[i][1] for i in order], batch_size)):
            results[i] = sample
    for i, (one, prompts) in volumes.items():
        names = (
            [resolve_class(class_names(model.cfg), p)[1]
             for p in prompts] if prompted_by_class(model) else prompts)
        if model_dims(model) == 3:
            results[i] = segment_volume_3d(
                model, as_volume(one, spacing, series, frame, component),
                prompts, names, window, return_probs)
            continue
        results[i] = segment_volume(
            model,
            as_volume(one, spacing, series, frame, component),
            prompts,
            _segment_slices,
            names=names,
            axis=axis,
            window=window,
            batch_size=batch_size,
            return_probs=return_probs,
            progress=progress)
    return results[0] if single else results


def inference_classifier(
    model: torch.nn.Module, img: Union[PathInput, Sequence[PathInput]]
) -> Union[DataSample, List[DataSample]]:
    """Classify image files with a classifier (CITE) from
    :func:`init_model`.

    The config's test pipeline reads and prepares each file, as
    ``tools/test.py`` does; the files go through the model as one batch.

    Args:
        model (nn.Module): A classifier (a config of scope ``mmvlsm_cls``).
        img (str | os.PathLike | list): One image file or a list.

    Returns:
        DataSample | list[DataSample]: With ``pred_score`` (num_classes, )
        and ``pred_label``; a list for a list.

    Raises:
        TypeError: If an input is not a path.
        ValueError: If the list is empty, or a file is not an image the
            config's loader reads.
    """
    single = not isinstance(img, (list, tuple))
    paths = [img] if single else list(img)
    if not paths:
        raise ValueError('inference_classifier got an empty list of images')
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError('inference_classifier takes image files, got a '
                            f'{type(path).__name__}')
    steps = [
        step for step in model.cfg.test_dataloader.dataset.pipeline
        if step['type'] not in GT_TRANSFORMS
    ]
    # The pipeline's transforms are those of the config's registry scope.
    with DefaultScope.overwrite_default_scope(model.cfg.get('default_scope')):
        pipeline = Compose(steps)
        data = [pipeline(dict(img_path=os.fspath(p))) for p in paths]
    if any(item is None for item in data):  # a loader with ignore_empty
        raise ValueError('Cannot read image ' +
                         os.fspath(paths[data.index(None)]))
    with torch.no_grad():
        samples = model.test_step(
            dict(
                inputs=[item['inputs'] for item in data],
                data_samples=[item['data_samples'] for item in data]))
    return samples[0] if single else samples
