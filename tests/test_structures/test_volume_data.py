# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
from mmseg.structures import SegDataSample

from mmvlsm.structures import VolumeData


def test_volume_data_in_a_seg_data_sample():
    sample = SegDataSample()
    sample.gt_sem_seg = VolumeData(data=torch.ones(1, 6, 5, 4))
    assert sample.gt_sem_seg.shape == (6, 5, 4)
    assert sample.to_dict()['gt_sem_seg']['data'].shape == (1, 6, 5, 4)
    # A 2D map, another spatial shape or another type is refused.
    with pytest.raises(ValueError, match=r'\(C, H, W, D\)'):
        VolumeData(data=torch.ones(1, 6, 5))
    with pytest.raises(ValueError, match=r'\(6, 5, 3\), the others'):
        sample.gt_sem_seg.logits = torch.ones(2, 6, 5, 3)
    with pytest.raises(TypeError, match='list'):
        VolumeData(data=[1, 2])
