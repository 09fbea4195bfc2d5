# Copyright (c) OpenMMLab. All rights reserved.
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvlsm.registry import MODELS
from .utils import as_float_target


@MODELS.register_module()
class SigmoidBCELoss(nn.Module):
    """Binary cross-entropy on logits, averaged over all pixels.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Key of the loss in the loss dict; it must contain
            ``'loss'`` to be back-propagated. Defaults to ``'loss_bce'``.
        apply_sigmoid_twice (bool): Apply the sigmoid to the logits before
            ``binary_cross_entropy_with_logits``, i.e. compute BCE on
            ``sigmoid(sigmoid(logits))``. This reproduces VLSM-Adapter,
            which passed probabilities to MONAI's ``DiceCELoss`` (MONAI >=
            1.3 uses ``BCEWithLogitsLoss`` for one channel). It is a weak,
            distorted BCE; use it only to reproduce that work. Defaults to
            False.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_bce',
                 apply_sigmoid_twice: bool = False):
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name
        self.apply_sigmoid_twice = apply_sigmoid_twice

    def forward(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Logits of shape (B, 1, H, W).
            target (Tensor): Binary masks in {0, 1} of shape (B, 1, H, W) or
                (B, H, W).

        Returns:
            Tensor: The weighted scalar loss.
        """
        # Full precision: half-precision logits come out of AMP autocast.
        pred = pred.float()
        if self.apply_sigmoid_twice:
            pred = pred.sigmoid()
        target = as_float_target(target, pred)
        loss = F.binary_cross_entropy_with_logits(pred, target)
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        """str: Key of the loss in the loss dict."""
        return self._loss_name
