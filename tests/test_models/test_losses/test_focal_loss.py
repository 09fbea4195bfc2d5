# Copyright (c) OpenMMLab. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F

from mmvlsm.models import FocalLoss
from mmvlsm.registry import MODELS


def two_pixels():
    # Two samples of one pixel each: logits (0, 0) with target 0 give
    # p = 1/2, nll = ln 2; logits (ln 3, 0) with target 1 give p = 1/4,
    # nll = ln 4.
    logits = torch.tensor([[0., 0.], [math.log(3.), 0.]]).view(2, 2, 1, 1)
    target = torch.tensor([0, 1]).view(2, 1, 1)
    return logits, target


def test_focal_hand_computed():
    logits, target = two_pixels()
    # gamma = 4: (1 - 1/2)^4 = 1/16 and (1 - 1/4)^4 = 81/256.
    term_0 = math.log(2) / 16
    term_1 = 81 / 256 * math.log(4)
    loss = FocalLoss()
    assert loss.loss_name == 'loss_focal'
    assert loss(logits, target).item() == pytest.approx((term_0 + term_1) / 2)
    # Per-sample weights: sample 0 is of class 0 (weight 2), sample 1 of
    # class 1 (weight 3); the other entries must not matter.
    per_sample = torch.tensor([[2., 5.], [7., 3.]])
    expected = (2 * term_0 + 3 * term_1) / 2
    assert loss(logits, target, per_sample).item() == pytest.approx(expected)
    shared = torch.tensor([2., 3.])
    assert loss(logits, target, shared).item() == pytest.approx(expected)
    weighted = MODELS.build(
        dict(type='FocalLoss', gamma=4.0, loss_weight=0.5, loss_name='loss_f'))
    assert weighted.loss_name == 'loss_f'
    assert weighted(logits, target,
                    shared).item() == pytest.approx(expected / 2)


def test_focal_gamma_zero_is_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 5, 4)
    target = torch.randint(0, 3, (2, 5, 4))
    loss = FocalLoss(gamma=0.0)
    expected = F.cross_entropy(logits, target)
    assert torch.allclose(loss(logits, target), expected)
    assert torch.allclose(loss(logits, target, torch.ones(3)), expected)
    # The weights scale the per-pixel terms but do not normalise the mean,
    # unlike F.cross_entropy's weighted 'mean' reduction.
    weight = torch.tensor([0.5, 1., 2.])
    expected = F.cross_entropy(
        logits, target, weight=weight, reduction='none').mean()
    assert torch.allclose(loss(logits, target, weight), expected)


def test_focal_factor_uses_unweighted_probability():
    # One pixel with p = 1/2 and alpha = 2. After PUNet's issue #1 fix the
    # factor is (1 - 1/2)^4; before it, p came from the weighted nll,
    # exp(-2 ln 2) = 1/4, giving (1 - 1/4)^4 instead.
    logits, target = torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1).long()
    alpha = torch.tensor([2., 1.])
    value = FocalLoss()(logits, target, alpha).item()
    assert value == pytest.approx(0.5**4 * 2 * math.log(2))
    pre_fix = (1 - 0.25)**4 * 2 * math.log(2)
    assert value < pre_fix / 4


def test_focal_half_precision_and_gradient():
    # A confident correct pixel (p ~ 1) and a confidently wrong one whose
    # log-probability is clamped at -1e3.
    logits = torch.tensor([[20., -20.], [0., 2000.]], dtype=torch.half)
    logits = logits.view(1, 2, 1, 2).requires_grad_()
    value = FocalLoss()(logits, torch.zeros(1, 1, 2, dtype=torch.long))
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(1e3 / 2, rel=1e-4)
    value.backward()
    assert torch.isfinite(logits.grad).all()


def test_focal_shape_errors():
    loss = FocalLoss()
    with pytest.raises(ValueError, match='does not match'):
        loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 2).long())
    with pytest.raises(ValueError, match='class_weight'):
        loss(
            torch.zeros(2, 2, 4, 4),
            torch.zeros(2, 4, 4).long(), torch.ones(3, 2))
