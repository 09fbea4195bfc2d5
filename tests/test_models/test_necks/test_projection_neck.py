# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch

from mmvlsm.models.necks import ProjectionNeck


def test_normal_identity_init():
    torch.manual_seed(0)
    neck = ProjectionNeck(64, 256)
    weight = neck.fc.weight.detach()
    assert weight.shape == (256, 64) and weight.dtype == torch.float32
    assert neck.fc.bias.dtype == torch.float32
    noise = weight - torch.eye(256, 64)
    assert noise.abs().max() < 0.15
    assert 0.015 < noise.std() < 0.025
    # The bias keeps nn.Linear's default, U(-1/sqrt(in), 1/sqrt(in)).
    assert neck.fc.bias.abs().max() <= 64**-0.5
    assert sum(p.numel() for p in neck.parameters()
               if p.requires_grad) == 64 * 256 + 256
    with pytest.raises(ValueError, match='init'):
        ProjectionNeck(4, 8, init='kaiming')


def test_forward_takes_last_feature():
    neck = ProjectionNeck(8, 16)
    first, last = torch.randn(2, 8), torch.randn(2, 8)
    (out, ) = neck((first, last))
    assert out.shape == (2, 16)
    torch.testing.assert_close(out, neck.fc(last))
    torch.testing.assert_close(neck(last)[0], out)
