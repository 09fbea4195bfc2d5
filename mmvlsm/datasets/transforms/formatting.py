# Copyright (c) OpenMMLab. All rights reserved.
"""Packing of a text-prompted sample for the model."""
from typing import Sequence

import torch
from mmseg.datasets.transforms import PackSegInputs

from mmvlsm.registry import TRANSFORMS

# The metainfo every text-prompted sample carries.
DEFAULT_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                     'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                     'text', 'prompt_key', 'img_name', 'mask_name',
                     'dataset_name', 'letterbox_size', 'letterbox_matrix')
TOKEN_KEYS = ('input_ids', 'attention_mask')


@TRANSFORMS.register_module()
class PackVLSMInputs(PackSegInputs):
    """``PackSegInputs`` that also packs the prompt's tokens.

    The image becomes ``inputs`` (uint8, (C, H, W)) and the mask
    ``gt_sem_seg`` as in :class:`mmseg.datasets.transforms.PackSegInputs`.
    ``input_ids`` and ``attention_mask`` written by :class:`TokenizePrompt`
    become data fields of the ``SegDataSample`` (int64 tensors of shape
    (context_length, )); without them the model tokenises
    ``metainfo['text']`` itself.

    Args:
        meta_keys (Sequence[str]): Keys of ``results`` kept in the metainfo.
            Defaults to :data:`DEFAULT_META_KEYS`.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack ``results`` into ``inputs`` and a ``SegDataSample``.

        Args:
            results (dict): The pipeline's results.

        Returns:
            dict: ``inputs`` (Tensor) and ``data_samples``
            (``SegDataSample``).
        """
        packed = super().transform(results)
        for key in TOKEN_KEYS:
            if key in results:
                packed['data_samples'].set_data(
                    {key: torch.from_numpy(results[key])})
        return packed
