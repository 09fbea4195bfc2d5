# Copyright (c) OpenMMLab. All rights reserved.
from abc import abstractmethod
from typing import Any, Dict, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from torch import Tensor

from mmvlsm.registry import MODELS
from ..utils import TokenizerConfig, build_tokenizer

# The dims to flip to undo each ``RandomFlip`` direction on (1, H, W) maps.
FLIP_DIMS = {'horizontal': (-1, ), 'vertical': (-2, ), 'diagonal': (-2, -1)}
LossConfigs = Union[ConfigType, Sequence[ConfigType]]
# Soft Dice plus a real BCE on logits, both with weight 1.
DEFAULT_LOSSES = (dict(type='SoftDiceLoss'), dict(type='SigmoidBCELoss'))


class TextPromptedSegmentor(BaseSegmentor):
    """Base class of segmentors that segment what a text prompt describes.

    Each data sample carries its prompt as a string in ``metainfo['text']``
    and gets one binary mask. The prompts of a batch are tokenized (padded
    to the longest one, truncated to ``context_length`` tokens) and a
    subclass turns images and tokens into logits in three steps:

    - :meth:`extract_feat`: image features from ``inputs``;
    - :meth:`encode_text`: text features from the tokens;
    - :meth:`decode`: logits of shape (B, 1, h, w) from both.

    A model that mixes text into the image encoder overrides
    :meth:`encode_decode` instead.

    In training, logits are resized (bilinear) to the size of
    ``gt_sem_seg`` when they differ, and every loss in ``losses`` is called
    as ``loss(logits, gt)`` with ``gt`` of shape (B, 1, H, W) in {0, 1}. In
    testing, logits are resized (bilinear) to each sample's ``ori_shape``,
    flips are undone, and only then thresholded, so masks are as sharp as
    the original image allows.

    Args:
        tokenizer (str | dict | PreTrainedTokenizerBase): The tokenizer; see
            :func:`mmvlsm.models.utils.build_tokenizer`.
        context_length (int): Maximum number of tokens of a prompt, start
            and end tokens included; longer prompts are truncated.
            Defaults to 77.
        losses (dict | Sequence[dict]): Configs of the losses. Losses with
            the same ``loss_name`` are summed. Defaults to soft Dice plus
            BCE, both on logits and with weight 1.
        train_cfg (dict, optional): Training config, kept for the mmseg
            interface. Defaults to None.
        test_cfg (dict, optional): Testing config. ``threshold`` (float) is
            the sigmoid probability above which a pixel is foreground.
            Defaults to None, i.e. ``dict(threshold=0.5)``.
        data_preprocessor (dict, optional): Config of the data
            preprocessor, usually ``SegDataPreProcessor``. Defaults to None.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None.
    """

    def __init__(self,
                 tokenizer: TokenizerConfig,
                 context_length: int = 77,
                 losses: LossConfigs = DEFAULT_LOSSES,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None):
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.tokenizer = build_tokenizer(tokenizer)
        self.context_length = context_length
        if isinstance(losses, dict):
            losses = [losses]
        self.losses = nn.ModuleList(MODELS.build(cfg) for cfg in losses)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg if test_cfg is not None else dict()
        self.align_corners = False

    @abstractmethod
    def extract_feat(self, inputs: Tensor) -> Any:
        """Extract image features.

        Args:
            inputs (Tensor): Normalized images of shape (B, 3, H, W).

        Returns:
            The image features :meth:`decode` takes.
        """

    @abstractmethod
    def encode_text(self, input_ids: Tensor, attention_mask: Tensor) -> Any:
        """Encode the tokenized prompts.

        Args:
            input_ids (Tensor): Token ids of shape (B, L).
            attention_mask (Tensor): 1 for tokens, 0 for padding, (B, L).

        Returns:
            The text features :meth:`decode` takes.
        """

    @abstractmethod
    def decode(self, img_feats: Any, text_feats: Any) -> Tensor:
        """Predict logits from image and text features.

        Returns:
            Tensor: Logits of shape (B, 1, h, w).
        """

    def tokenize(self, data_samples: OptSampleList,
                 device: torch.device) -> Tuple[Tensor, Tensor]:
        """Tokenize the prompts of a batch.

        Args:
            data_samples (list[:obj:`SegDataSample`]): Samples whose
                ``metainfo['text']`` holds the prompts.
            device (torch.device): Device of the returned tensors.

        Returns:
            tuple[Tensor, Tensor]: ``input_ids`` and ``attention_mask``,
            both of shape (B, L) with L the length of the longest prompt,
            at most ``context_length``.
        """
        if data_samples is None:
            raise ValueError(f'{type(self).__name__} needs data samples with '
                             'the text prompt in metainfo["text"].')
        texts = [sample.metainfo.get('text') for sample in data_samples]
        for text in texts:
            if not isinstance(text, str):
                raise ValueError('Every data sample needs its prompt as a '
                                 f'string in metainfo["text"], got {text!r}.')
        tokens = self.tokenizer(
            texts,
            padding='longest',
            truncation=True,
            max_length=self.context_length,
            return_tensors='pt')
        return (tokens['input_ids'].to(device),
                tokens['attention_mask'].to(device))

    def encode_decode(self, inputs: Tensor,
                      batch_data_samples: OptSampleList) -> Tensor:
        """Segment each image by the prompt of its data sample.

        Args:
            inputs (Tensor): Normalized images of shape (B, 3, H, W).
            batch_data_samples (list[:obj:`SegDataSample`]): The samples,
                with the prompts in ``metainfo['text']``.

        Returns:
            Tensor: Logits of shape (B, 1, h, w).
        """
        input_ids, attention_mask = self.tokenize(batch_data_samples,
                                                  inputs.device)
        img_feats = self.extract_feat(inputs)
        text_feats = self.encode_text(input_ids, attention_mask)
        return self.decode(img_feats, text_feats)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Compute the losses of a batch.

        Args:
            inputs (Tensor): Normalized images of shape (B, 3, H, W).
            data_samples (list[:obj:`SegDataSample`]): The samples, with
                ``gt_sem_seg`` of shape (1, H, W) in {0, 1}.

        Returns:
            dict[str, Tensor]: The losses, keyed by their ``loss_name``.
        """
        seg_logits = self.encode_decode(inputs, data_samples)
        gt = torch.stack([sample.gt_sem_seg.data for sample in data_samples])
        if seg_logits.shape[-2:] != gt.shape[-2:]:
            seg_logits = F.interpolate(
                seg_logits,
                size=gt.shape[-2:],
                mode='bilinear',
                align_corners=self.align_corners)
        losses: Dict[str, Tensor] = dict()
        for loss_module in self.losses:
            name = loss_module.loss_name
            value = loss_module(seg_logits, gt)
            losses[name] = losses[name] + value if name in losses else value
        return losses

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Predict a mask per sample at its original resolution.

        Args:
            inputs (Tensor): Normalized images of shape (B, 3, H, W).
            data_samples (list[:obj:`SegDataSample`]): The samples, with
                the prompts in ``metainfo['text']``.

        Returns:
            list[:obj:`SegDataSample`]: The samples with ``seg_logits``
            (logits) and ``pred_sem_seg`` (int64 in {0, 1}), both of shape
            (1, H, W) at ``ori_shape``.
        """
        seg_logits = self.encode_decode(inputs, data_samples)
        return self.postprocess_result(seg_logits, data_samples)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Return the raw logits of shape (B, 1, h, w)."""
        return self.encode_decode(inputs, data_samples)

    def postprocess_result(self, seg_logits: Tensor,
                           data_samples: SampleList) -> SampleList:
        """Resize logits to the original images and threshold them.

        Unlike mmseg's version, ``seg_logits`` keeps the logits (not
        probabilities) and the threshold comes from ``test_cfg``.

        Args:
            seg_logits (Tensor): Logits of shape (B, 1, h, w).
            data_samples (list[:obj:`SegDataSample`]): The samples, with
                ``ori_shape`` and optionally ``flip`` and ``flip_direction``
                in their metainfo.

        Returns:
            list[:obj:`SegDataSample`]: The samples with ``seg_logits`` and
            ``pred_sem_seg`` set.
        """
        threshold = self.test_cfg.get('threshold', 0.5)
        for logits, sample in zip(seg_logits, data_samples):
            meta = sample.metainfo
            padding = meta.get('img_padding_size', meta.get('padding_size'))
            if padding is not None and any(padding):
                # Logits need not be at the input resolution, so padding
                # cannot be cropped reliably here.
                raise ValueError(
                    'Padded inputs are not supported: resize images to the '
                    'model resolution instead of padding them.')
            if meta.get('flip', False):
                logits = logits.flip(FLIP_DIMS[meta['flip_direction']])
            logits = F.interpolate(
                logits[None],
                size=meta['ori_shape'][:2],
                mode='bilinear',
                align_corners=self.align_corners)[0]
            pred = (logits.sigmoid() > threshold).long()
            sample.set_data(
                dict(
                    seg_logits=PixelData(data=logits),
                    pred_sem_seg=PixelData(data=pred)))
        return data_samples
