# Copyright (c) OpenMMLab. All rights reserved.
import sys
import types

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss as tv_sigmoid_focal_loss

import mmvlsm  # noqa: F401
from mmvlsm.utils.mmcv_compat import (install_mmcv_ops_fallback, point_sample,
                                      sigmoid_focal_loss)


def test_mmseg_models_import_with_mmcv_lite():
    import mmseg.models  # noqa: F401
    from mmcv.ops import point_sample as ops_point_sample
    from mmcv.ops import sigmoid_focal_loss as ops_focal
    from mmseg.models.losses import FocalLoss  # noqa: F401
    if getattr(sys.modules['mmcv.ops'], '__mmvlsm_fallback__', False):
        assert ops_point_sample is point_sample
        assert ops_focal is sigmoid_focal_loss


def test_other_compiled_op_gives_clear_error():
    if not getattr(sys.modules['mmcv.ops'], '__mmvlsm_fallback__', False):
        pytest.skip('a full mmcv with compiled ops is installed')
    with pytest.raises(ModuleNotFoundError, match='RoIAlign is a compiled op'):
        from mmcv.ops import RoIAlign  # noqa: F401


def test_full_mmcv_is_left_untouched(monkeypatch):
    real_ops = types.ModuleType('mmcv.ops')
    real_ops.point_sample = object()
    monkeypatch.setitem(sys.modules, 'mmcv.ops', real_ops)
    assert install_mmcv_ops_fallback() is False
    assert sys.modules['mmcv.ops'] is real_ops


def test_point_sample_matches_grid_sample():
    feats = torch.arange(16.).reshape(1, 1, 4, 4)
    # Pixel centres of (x=0, y=0) and (x=3, y=1) in normalised coordinates.
    points = torch.tensor([[[0.125, 0.125], [0.875, 0.375]]])
    out = point_sample(feats, points)
    assert out.shape == (1, 1, 2)
    torch.testing.assert_close(out, torch.tensor([[[0., 7.]]]))
    grid = torch.rand(2, 3, 5, 2)
    feats = torch.rand(2, 4, 6, 7)
    torch.testing.assert_close(
        point_sample(feats, grid, align_corners=True),
        F.grid_sample(feats, grid * 2 - 1, align_corners=True))


def test_sigmoid_focal_loss_matches_torchvision():
    torch.manual_seed(0)
    logits = torch.randn(6, 3)
    target = torch.tensor([0, 2, 3, 1, 3, 0])  # 3 = background
    one_hot = F.one_hot(target, 4)[:, :3].float()
    expected = tv_sigmoid_focal_loss(
        logits, one_hot, alpha=0.25, gamma=2.0, reduction='none')
    torch.testing.assert_close(
        sigmoid_focal_loss(logits, target, reduction='none'), expected)
    torch.testing.assert_close(
        sigmoid_focal_loss(logits, target),
        expected.sum() / 6)
    weight = torch.tensor([1., 2., 3.])
    row = torch.tensor([1., 3., 1., 2., 1., 1.])
    torch.testing.assert_close(
        sigmoid_focal_loss(logits, target, weight=weight, reduction='sum'),
        (expected * row[:, None]).sum())
