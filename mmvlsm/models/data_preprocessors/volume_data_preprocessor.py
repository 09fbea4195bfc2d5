# Copyright (c) OpenMMLab. All rights reserved.
from numbers import Number
from typing import Any, Optional, Sequence

import torch
from torch import Tensor

from mmvlsm.registry import MODELS
from .vlsm_data_preprocessor import VLSMDataPreProcessor


@MODELS.register_module()
class VolumeDataPreProcessor(VLSMDataPreProcessor):
    """Batch, move and normalise volumes of volumetric models.

    :class:`VLSMDataPreProcessor` for (C, H, W, D) inputs (from
    :class:`mmvlsm.datasets.transforms.PackVolumeInputs`): they are
    stacked to (B, C, H, W, D), copied to the device once, cast to float32
    and normalised per channel, ``(x - mean) / std`` (PUNet: 127.5 and
    127.5, so uint8 0..255 becomes [-1, 1]). The data samples (with their
    :class:`mmvlsm.structures.VolumeData` targets) are moved as they are.

    Volumes are not padded: a batch holds volumes of one shape, which
    random crops give for training; whole volumes of different sizes are
    fed one at a time (batch size 1).

    Args:
        mean (Sequence[Number], optional): Voxel mean per channel. Defaults
            to None (no normalisation).
        std (Sequence[Number], optional): Voxel standard deviation per
            channel. Defaults to None.
        non_blocking (bool): Copy to the device without blocking the host.
            Defaults to True.
    """

    def __init__(self,
                 mean: Optional[Sequence[Number]] = None,
                 std: Optional[Sequence[Number]] = None,
                 non_blocking: bool = True) -> None:
        super().__init__(mean=mean, std=std, non_blocking=non_blocking)
        if self._enable_normalize:
            # Broadcast over (B, C, H, W, D).
            self.mean = self.mean.view(1, -1, 1, 1, 1)
            self.std = self.std.view(1, -1, 1, 1, 1)

    def _stack_images(self, inputs: Any) -> Tensor:
        """Put the volumes on the device as one (B, C, H, W, D) tensor."""
        if not isinstance(inputs, Tensor):
            shapes = {tuple(volume.shape) for volume in inputs}
            if len(shapes) > 1:
                raise ValueError(
                    'The volumes of a batch have different shapes '
                    f'{sorted(shapes)}: crop them to one size in the '
                    'pipeline, or use batch_size=1 for whole volumes.')
            inputs = torch.stack(list(inputs))
        if inputs.dim() != 5:
            raise ValueError('VolumeDataPreProcessor batches (C, H, W, D) '
                             'volumes into (B, C, H, W, D), got a batch of '
                             f'shape {tuple(inputs.shape)}')
        return self.cast_data(inputs)
