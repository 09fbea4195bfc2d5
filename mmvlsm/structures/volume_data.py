# Copyright (c) OpenMMLab. All rights reserved.
"""Pixel data of volumes, for the fields of a ``SegDataSample``."""
from typing import Tuple, Union

import numpy as np
import torch
from mmengine.structures import BaseDataElement, PixelData


class VolumeData(PixelData):
    """mmengine's ``PixelData`` for 3D maps: data of shape (C, H, W, D).

    ``SegDataSample.gt_sem_seg`` and ``pred_sem_seg`` must be ``PixelData``,
    which accepts (C, H, W) only; a 3D segmentor's targets and predictions
    are this subclass, so the data sample, the data preprocessor and
    ``DiceIoUMetric`` handle them as they do 2D ones. All values share the
    spatial shape (H, W, D).

    Examples:
        >>> from mmseg.structures import SegDataSample
        >>> sample = SegDataSample()
        >>> sample.gt_sem_seg = VolumeData(data=torch.zeros(1, 6, 5, 4))
        >>> sample.gt_sem_seg.shape
        (6, 5, 4)
    """

    def __setattr__(self, name: str, value: Union[torch.Tensor,
                                                  np.ndarray]) -> None:
        if name in ('_metainfo_fields', '_data_fields'):
            BaseDataElement.__setattr__(self, name, value)
            return
        if not isinstance(value, (torch.Tensor, np.ndarray)):
            raise TypeError(f'VolumeData holds tensors or arrays, not '
                            f'{type(value).__name__}')
        if value.ndim != 4:
            raise ValueError('VolumeData holds (C, H, W, D) data, got shape '
                             f'{tuple(value.shape)}')
        if self.shape and tuple(value.shape[1:]) != self.shape:
            raise ValueError(f'{name} has the spatial shape '
                             f'{tuple(value.shape[1:])}, the others '
                             f'{self.shape}')
        BaseDataElement.__setattr__(self, name, value)

    @property
    def shape(self) -> Tuple[int, ...]:
        """The spatial shape (H, W, D), empty before any data is set."""
        if len(self._data_fields) > 0:
            return tuple(self.values()[0].shape[1:])
        return ()
