# Copyright (c) OpenMMLab. All rights reserved.
"""Segment an image by a text prompt with a trained model."""
import os
from typing import Optional, Union

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

ImageInput = Union[str, os.PathLike, Image.Image, np.ndarray]
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
            f'inference_model segments one image, got a '
            f'{type(img).__name__} of {len(img)}; call it once per image '
            '(batched inference is not supported yet)')
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


def inference_model(model: torch.nn.Module, img: ImageInput,
                    text: str) -> SegDataSample:
    """Segment what ``text`` describes in ``img``.

    Args:
        model (nn.Module): A model from :func:`init_model`.
        img (str | os.PathLike | PIL.Image.Image | np.ndarray): One image:
            a path, a PIL image, or an array (grey, BGR or BGRA; uint8,
            uint16 or float in [0, 1]). See :func:`prepare_image` for how
            each is converted; 16-bit images follow the config's image
            loader (``depth_scaling``).
        text (str): The prompt.

    Returns:
        SegDataSample: ``pred_sem_seg`` (1, H, W) in {0, 1} and
        ``seg_logits`` (1, H, W), at the image's original size.

    Raises:
        TypeError: If ``img`` or ``text`` is of a type not accepted.
        ValueError: If an array's shape, dtype or values are not accepted.
    """
    if not isinstance(text, str):
        raise TypeError('inference_model takes one prompt (a str), got a '
                        f'{type(text).__name__}')
    steps = [
        step for step in model.cfg.test_dataloader.dataset.pipeline
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
    img = prepare_image(img, steps[loader].get('depth_scaling', 'range'))
    if isinstance(img, np.ndarray):
        # An array is already decoded: load it as mmseg does for arrays.
        steps[loader] = dict(type='LoadImageFromNDArray')
        data = dict(img=img)
    else:
        data = dict(img_path=img)
    data['text'] = text
    data = Compose(steps)(data)
    batch = dict(inputs=[data['inputs']], data_samples=[data['data_samples']])
    with torch.no_grad():
        return model.test_step(batch)[0]
