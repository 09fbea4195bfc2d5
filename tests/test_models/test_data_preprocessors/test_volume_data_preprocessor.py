# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
from mmseg.structures import SegDataSample

from mmvlsm.registry import MODELS
from mmvlsm.structures import VolumeData


def make_sample(shape=(4, 3, 2)):
    sample = SegDataSample()
    sample.gt_sem_seg = VolumeData(
        data=torch.ones(1, *shape, dtype=torch.long))
    return sample


def test_stacks_and_normalises_to_unit_range():
    preprocessor = MODELS.build(
        dict(type='VolumeDataPreProcessor', mean=[127.5], std=[127.5]))
    volumes = [
        torch.full((1, 4, 3, 2), 255, dtype=torch.uint8),
        torch.zeros(1, 4, 3, 2, dtype=torch.uint8)
    ]
    volumes[1][0, 1, 2, 1] = 51
    samples = [make_sample(), make_sample()]
    out = preprocessor(dict(inputs=volumes, data_samples=samples))
    inputs = out['inputs']
    assert inputs.shape == (2, 1, 4, 3, 2) and inputs.dtype == torch.float32
    assert (inputs[0] == 1).all()
    assert inputs[1, 0, 1, 2, 1] == pytest.approx(51 / 127.5 - 1)
    assert inputs[1].min() == -1
    # The caller's volumes are left alone; the samples are kept.
    assert volumes[0].dtype == torch.uint8 and (volumes[0] == 255).all()
    assert out['data_samples'][1].gt_sem_seg.shape == (4, 3, 2)
    # A collated batch (B, C, H, W, D) works too.
    stacked = preprocessor(dict(inputs=torch.stack(volumes)))
    assert torch.equal(stacked['inputs'], inputs)


def test_refuses_volumes_of_different_shapes():
    preprocessor = MODELS.build(dict(type='VolumeDataPreProcessor'))
    with pytest.raises(ValueError, match='batch_size=1 for whole volumes'):
        preprocessor(
            dict(inputs=[
                torch.zeros(1, 4, 3, 2, dtype=torch.uint8),
                torch.zeros(1, 4, 3, 5, dtype=torch.uint8)
            ]))
    with pytest.raises(ValueError, match=r'\(B, C, H, W, D\)'):
        preprocessor(dict(inputs=[torch.zeros(1, 4, 3, dtype=torch.uint8)]))
    # Without mean and std: cast only.
    out = preprocessor(
        dict(inputs=[torch.full((1, 2, 2, 2), 7, dtype=torch.uint8)]))
    assert out['inputs'].dtype == torch.float32 and (out['inputs'] == 7).all()
