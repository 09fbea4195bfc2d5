# Copyright (c) OpenMMLab. All rights reserved.
"""Segment an image by a text prompt with a trained model."""
from typing import Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmseg.structures import SegDataSample

from mmvlsm.registry import MODELS
from mmvlsm.utils import bind_prompt_tokenizer

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


def inference_model(model: torch.nn.Module, img: Union[str, np.ndarray],
                    text: str) -> SegDataSample:
    """Segment what ``text`` describes in ``img``.

    Args:
        model (nn.Module): A model from :func:`init_model`.
        img (str | np.ndarray): Image path, or a BGR image of shape
            (H, W, 3) as read by ``mmcv.imread``.
        text (str): The prompt.

    Returns:
        SegDataSample: ``pred_sem_seg`` (1, H, W) in {0, 1} and
        ``seg_logits`` (1, H, W), at the image's original size.
    """
    steps = [
        step for step in model.cfg.test_dataloader.dataset.pipeline
        if step['type'] not in GT_TRANSFORMS
    ]
    if isinstance(img, np.ndarray):
        # An array is already decoded: load it as mmseg does for arrays.
        loader = next(i for i, step in enumerate(steps)
                      if step['type'] in IMAGE_LOADERS)
        steps[loader] = dict(type='LoadImageFromNDArray')
        data = dict(img=img)
    else:
        data = dict(img_path=img)
    data['text'] = text
    data = Compose(steps)(data)
    batch = dict(inputs=[data['inputs']], data_samples=[data['data_samples']])
    with torch.no_grad():
        return model.test_step(batch)[0]
