# Copyright (c) OpenMMLab. All rights reserved.
import math

import pytest
import torch

from mmvlsm.models import SigmoidBCELoss
from mmvlsm.registry import MODELS


def test_bce_hand_computed():
    # sigmoid(0) = 1/2 and sigmoid(ln 3) = 3/4, so with targets 1 and 0 the
    # per-pixel losses are -ln(1/2) = ln 2 and -ln(1/4) = 2 ln 2.
    logits = torch.tensor([0., math.log(3.)]).view(1, 1, 1, 2)
    target = torch.tensor([1, 0]).view(1, 1, 2)
    loss = SigmoidBCELoss()
    assert loss.loss_name == 'loss_bce'
    expected = 1.5 * math.log(2)
    assert loss(logits, target).item() == pytest.approx(expected)
    assert loss(logits, target[:, None]).item() == pytest.approx(expected)
    weighted = SigmoidBCELoss(loss_weight=2.0, loss_name='loss_x')
    assert weighted.loss_name == 'loss_x'
    assert weighted(logits, target).item() == pytest.approx(3 * math.log(2))


def test_bce_apply_sigmoid_twice():
    # BCE-with-logits of sigmoid(0) = 0.5 against 1 is ln(1 + exp(-0.5)).
    loss = MODELS.build(dict(type='SigmoidBCELoss', apply_sigmoid_twice=True))
    value = loss(torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1))
    assert value.item() == pytest.approx(math.log(1 + math.exp(-0.5)))
    assert value.item() == pytest.approx(0.474077, abs=1e-6)


def test_bce_half_precision_and_gradient():
    logits = torch.zeros(2, 1, 4, 4, dtype=torch.half, requires_grad=True)
    value = SigmoidBCELoss()(logits, torch.ones(2, 4, 4, dtype=torch.long))
    assert value.dtype == torch.float32
    value.backward()
    # d/dx BCE(sigmoid(x), 1) = sigmoid(x) - 1 = -1/2, averaged over 32.
    assert torch.allclose(logits.grad.float(),
                          torch.full_like(logits, -0.5 / 32).float())


def test_bce_shape_mismatch():
    with pytest.raises(ValueError, match='does not match'):
        SigmoidBCELoss()(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 2, 2))
