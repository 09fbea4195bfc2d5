# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch

from mmvlsm.models import SoftDiceLoss
from mmvlsm.registry import MODELS

EPS = 1e-5


def test_dice_hand_computed():
    # Sample 0: saturated logits predict pixels {0, 1}, the target is {0}:
    # intersection 1, sum(p) + sum(t) = 3.
    # Sample 1: all probabilities 1/2, empty target: intersection 0,
    # sum(p) + sum(t) = 2.
    logits = torch.tensor([[100., 100., -100., -100.], [0., 0., 0., 0.]])
    target = torch.tensor([[1, 0, 0, 0], [0, 0, 0, 0]])
    logits, target = logits.view(2, 1, 2, 2), target.view(2, 2, 2)
    loss_0 = 1 - (2 * 1 + EPS) / (3 + EPS)
    loss_1 = 1 - (0 + EPS) / (2 + EPS)
    loss = SoftDiceLoss()
    assert loss.loss_name == 'loss_dice'
    assert loss(logits, target).item() == pytest.approx(
        (loss_0 + loss_1) / 2, abs=1e-6)
    weighted = MODELS.build(
        dict(type='SoftDiceLoss', loss_weight=1.5, loss_name='loss_d'))
    assert weighted.loss_name == 'loss_d'
    assert weighted(logits, target).item() == pytest.approx(
        1.5 * (loss_0 + loss_1) / 2, abs=1e-6)


def test_dice_empty_target_and_prediction():
    # The smoothing terms make an empty prediction of an empty mask perfect
    # and a full prediction of it maximally wrong.
    empty = torch.zeros(1, 1, 3, 3, dtype=torch.long)
    loss = SoftDiceLoss()
    value = loss(torch.full((1, 1, 3, 3), -100.), empty)
    assert value.item() == pytest.approx(0, abs=1e-6)
    value = loss(torch.full((1, 1, 3, 3), 100.), empty)
    assert value.item() == pytest.approx(1 - EPS / (9 + EPS), abs=1e-7)


def test_dice_is_per_sample():
    # A perfect sample and a fully wrong one average to 1/2, whatever their
    # sizes; a global Dice over the batch would weigh them by area.
    logits = torch.full((2, 1, 4, 4), -100.)
    logits[0, :, :2] = 100.
    target = torch.zeros(2, 1, 4, 4)
    target[0, :, :2] = 1
    target[1, :, 0, 0] = 1
    assert SoftDiceLoss()(logits, target).item() == pytest.approx(
        0.5, abs=1e-5)


def test_dice_gradient():
    logits = torch.zeros(1, 1, 2, 2, requires_grad=True)
    SoftDiceLoss()(logits, torch.ones(1, 1, 2, 2)).backward()
    # Raising any logit raises the Dice, so every gradient is negative.
    assert (logits.grad < 0).all()
