# Copyright (c) OpenMMLab. All rights reserved.
from numbers import Number
from typing import Any, Dict, Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from mmvlsm.registry import MODELS


def _stack_tokens(data_samples: Sequence, device: torch.device,
                  trim: bool) -> None:
    """Batch the samples' token ids on the host and move them at once.

    The ids come padded to the pipeline's context length; with ``trim`` the
    batch is cut to its longest prompt (``padding='longest'``). Each sample
    then holds a row view of the batch on ``device``.
    """
    ids = torch.stack([sample.input_ids for sample in data_samples])
    mask = torch.stack([sample.attention_mask for sample in data_samples])
    if trim:
        # On the host, so no device synchronisation.
        length = int(mask.sum(1).max())
        ids, mask = ids[:, :length], mask[:, :length]
    ids = ids.to(device, non_blocking=True)
    mask = mask.to(device, non_blocking=True)
    for i, sample in enumerate(data_samples):
        sample.set_data(dict(input_ids=ids[i], attention_mask=mask[i]))


@MODELS.register_module()
class VLSMDataPreProcessor(BaseDataPreprocessor):
    """Batch, move and normalise images and prompts of text-prompted models.

    Every step works on the whole batch: the images (uint8, (B, C, H, W)
    stacked by the collate function, or a list of (C, H, W) tensors stacked
    here) are copied to the device once, non-blocking (from pinned memory
    when the dataloader sets ``pin_memory=True``), then converted and
    normalised in two passes (subtract, divide); the prompts' token ids
    (from :class:`mmvlsm.datasets.transforms.TokenizePrompt`) are stacked,
    trimmed to the longest prompt and copied once. The result equals
    mmseg's ``SegDataPreProcessor`` on images of one size (tested), which
    normalises image by image.

    Images are not padded: all images of a batch must have one size (the
    pipelines resize them to the model's input size).

    Args:
        mean (Sequence[Number], optional): Pixel mean per channel, in the
            channel order after ``bgr_to_rgb``. Defaults to None (no
            normalisation).
        std (Sequence[Number], optional): Pixel standard deviation per
            channel. Defaults to None.
        bgr_to_rgb (bool): Reverse the channels of 3-channel images.
            Defaults to False.
        trim_tokens (bool): Cut the token batch to its longest prompt.
            False keeps every batch at ``context_length``, which a compiled
            train step needs (the tools set it when the config has
            ``compile``, see
            :func:`mmvlsm.utils.static_token_shapes_for_compile`).
            Defaults to True.
        non_blocking (bool): Copy to the device without blocking the host.
            Defaults to True.
    """

    def __init__(self,
                 mean: Optional[Sequence[Number]] = None,
                 std: Optional[Sequence[Number]] = None,
                 bgr_to_rgb: bool = False,
                 trim_tokens: bool = True,
                 non_blocking: bool = True) -> None:
        super().__init__(non_blocking=non_blocking)
        self.trim_tokens = trim_tokens
        if (mean is None) != (std is None):
            raise ValueError('Give both `mean` and `std` to normalise, or '
                             'neither.')
        self.bgr_to_rgb = bgr_to_rgb
        self._enable_normalize = mean is not None
        if self._enable_normalize:
            self.register_buffer('mean',
                                 torch.tensor(mean).view(1, -1, 1, 1), False)
            self.register_buffer('std',
                                 torch.tensor(std).view(1, -1, 1, 1), False)

    def _stack_images(self, inputs: Any) -> Tensor:
        """Put the images on the device as one (B, C, H, W) tensor."""
        if isinstance(inputs, Tensor):
            return self.cast_data(inputs)
        shapes = {tuple(img.shape) for img in inputs}
        if len(shapes) > 1:
            raise ValueError(
                f'The images of a batch have different shapes {sorted(shapes)}'
                '; resize them to the model input size in the pipeline.')
        return torch.stack(self.cast_data(list(inputs)))

    # Host-side batching: nothing for torch.compile to gain here.
    @torch.compiler.disable
    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Batch, move and normalise ``data``.

        Args:
            data (dict): A batch from the dataloader: ``inputs`` (uint8
                images) and ``data_samples`` (``SegDataSample`` list).
            training (bool): Unused; kept for the mmengine interface.

        Returns:
            dict: ``inputs`` (float32, (B, C, H, W), normalised) and
            ``data_samples`` on the model's device.
        """
        data_samples = data.get('data_samples')
        if data_samples and all('input_ids' in sample
                                for sample in data_samples):
            _stack_tokens(data_samples, self.device, self.trim_tokens)
        inputs = self._stack_images(data['inputs'])
        if self.bgr_to_rgb and inputs.size(1) == 3:
            inputs = inputs.flip(1)
        if inputs.is_floating_point() or not self._enable_normalize:
            inputs = inputs.float()
        if self._enable_normalize:
            # Two passes over the batch: uint8 - float32 converts while it
            # subtracts, into a new tensor (the caller's is left alone), and
            # the division is in place.
            inputs = (inputs - self.mean).div_(self.std)
        return dict(inputs=inputs, data_samples=self.cast_data(data_samples))
