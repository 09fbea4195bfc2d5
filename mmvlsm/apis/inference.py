# Copyright (c) OpenMMLab. All rights reserved.
"""Segment an image by a text prompt with a trained model."""
import os
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmseg.structures import SegDataSample
from PIL import Image

from mmvlsm.datasets.transforms.loading import to_uint8
from mmvlsm.registry import MODELS
from mmvlsm.utils import bind_prompt_tokenizer

PathInput = Union[str, os.PathLike]
ImageInput = Union[PathInput, Image.Image, np.ndarray]
PromptInput = Union[str, Sequence[str]]
ACCEPTED = ('a path, a PIL image, or a numpy array of shape (H, W), '
            '(H, W, 1), (H, W, 3) (BGR) or (H, W, 4) (BGRA) with dtype '
            'uint8, uint16 or float in [0, 1]')
# PIL modes read as they are: 16-bit ('I' is how PIL opens some 16-bit
# PNGs) and float; every other mode is converted to 'L' or 'RGB'.
PIL_NUMERIC_MODES = ('I', 'I;16', 'I;16B', 'I;16L', 'I;16N', 'F')

# Steps of a test pipeline that need a ground truth, which inference lacks.
GT_TRANSFORMS = ('LoadBinaryMask', 'LoadAnnotations')
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


def prepare_image(img: ImageInput,
                  depth_scaling: str = 'range') -> Union[str, np.ndarray]:
    """Check an image given to :func:`inference_model` and convert it.

    - A path (str or ``os.PathLike``) is returned as a str, for the
      config's image loader.
    - A PIL image: 16-bit (modes ``I;16*``, and ``I`` within 0..65535) and
      float (``F``) images are read as arrays; any other mode is converted
      to ``L`` (``1``, ``L``, ``LA``) or ``RGB`` (alpha dropped, palettes
      expanded), and RGB becomes BGR.
    - A numpy array is BGR(A) as ``cv2``/``mmcv`` read images: (H, W) or
      (H, W, 1) grey, (H, W, 3) BGR, or (H, W, 4) BGRA (alpha dropped, not
      blended); uint8 as is, uint16 scaled to 8 bits by ``depth_scaling``
      (see :func:`mmvlsm.datasets.transforms.loading.to_uint8`, the image
      loader's rule), float in [0, 1] multiplied by 255.

    Args:
        img (str | os.PathLike | PIL.Image.Image | np.ndarray): The image.
        depth_scaling (str): ``'range'`` or ``'dtype'``, for 16-bit images.
            Defaults to 'range'.

    Returns:
        str | np.ndarray: The path, or a uint8 BGR array of shape
        (H, W, 3).

    Raises:
        TypeError: For another type, e.g. a list of images.
        ValueError: For an array of another shape, dtype or value range.
    """
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
            array = np.asarray(img.convert('RGB'))[..., ::-1]
        name = f'PIL image of mode {img.mode}'
    elif isinstance(img, np.ndarray):
        array, name = img, 'image array'
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
    if array.ndim == 2:
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
    steps, loader = _test_steps(model.cfg)
    step = steps[loader]
    # A loader's float32 output is on the 0..255 scale, which prepare_image
    # refuses; the data preprocessor makes floats of the batch anyway.
    results = Compose([dict(step, to_float32=False)])(
        dict(img_path=os.fspath(path)))
    if results is None:  # a loader with ignore_empty=True
        raise ValueError(f'Cannot read image {os.fspath(path)}')
    return prepare_image(results['img'], step.get('depth_scaling', 'range'))


def _prompts(text: PromptInput, num_images: int, single: bool) -> List[str]:
    """One prompt per image, or an error saying what is expected."""
    if single:
        if not isinstance(text, str):
            raise TypeError('inference_model takes one prompt (a str) for '
                            f'one image, got a {type(text).__name__}')
        return [text]
    if isinstance(text, str):
        return [text] * num_images
    if not isinstance(text, (list, tuple)) or not all(
            isinstance(t, str) for t in text):
        raise TypeError('inference_model takes a prompt (a str) or a list of '
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


def inference_model(
        model: torch.nn.Module,
        img: Union[ImageInput, Sequence[ImageInput]],
        text: PromptInput,
        batch_size: int = 8) -> Union[SegDataSample, List[SegDataSample]]:
    """Segment what ``text`` describes in ``img``, one image or a list.

    A list may mix paths, PIL images and arrays of any sizes: the test
    pipeline resizes each to the model input, and each mask comes back at
    its own image's original size. A single image is a batch of one.

    Args:
        model (nn.Module): A model from :func:`init_model`.
        img (str | os.PathLike | PIL.Image.Image | np.ndarray | list): One
            image or a list (or tuple) of them: a path, a PIL image, or an
            array (grey, BGR or BGRA; uint8, uint16 or float in [0, 1]).
            See :func:`prepare_image` for how each is converted; 16-bit
            images follow the config's image loader (``depth_scaling``).
        text (str | Sequence[str]): The prompt; for a list of images, one
            prompt for all of them or a list with one per image.
        batch_size (int): How many images go through the model at once.
            Masks do not depend on it. Defaults to 8.

    Returns:
        SegDataSample | list[SegDataSample]: For one image, its sample; for
        a list, one sample per image in the same order. Each holds
        ``pred_sem_seg`` (1, H, W) in {0, 1} and ``seg_logits`` (1, H, W),
        at its image's original size, and the prompt in ``text``.

    Raises:
        TypeError: If an image or ``text`` is of a type not accepted.
        ValueError: If an array's shape, dtype or values are not accepted,
            the list is empty, the number of prompts differs from the
            number of images, or ``batch_size`` is below 1.
    """
    single = not isinstance(img, (list, tuple))
    imgs = [img] if single else list(img)
    if not imgs:
        raise ValueError('inference_model got an empty list of images')
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f'batch_size must be an int >= 1, got {batch_size!r}')
    texts = _prompts(text, len(imgs), single)
    steps, loader = _test_steps(model.cfg)
    depth_scaling = steps[loader].get('depth_scaling', 'range')
    # Arrays are checked before anything is segmented (files when read).
    prepared = []
    for i, one in enumerate(imgs):
        try:
            prepared.append(prepare_image(one, depth_scaling))
        except (TypeError, ValueError) as err:
            if single:
                raise
            raise type(err)(f'image {i} of the list: {err}') from err
    from_file = Compose(steps)
    # An array is already decoded: it is loaded as mmseg does for arrays.
    steps[loader] = dict(type='LoadImageFromNDArray')
    from_array = Compose(steps)

    samples = []
    for start in range(0, len(prepared), batch_size):
        stop = start + batch_size
        data = []
        for one, prompt in zip(prepared[start:stop], texts[start:stop]):
            if isinstance(one, np.ndarray):
                data.append(from_array(dict(img=one, text=prompt)))
            else:
                data.append(from_file(dict(img_path=one, text=prompt)))
        samples.extend(_predict(model, data))
    return samples[0] if single else samples
