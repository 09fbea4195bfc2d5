# Copyright (c) OpenMMLab. All rights reserved.
import torch
import torch.nn as nn

from mmvlsm.registry import MODELS
from .utils import as_float_target


@MODELS.register_module()
class SoftDiceLoss(nn.Module):
    """Soft Dice loss on logits, computed per sample and channel.

    With ``p = sigmoid(pred)``, target ``t`` and sums over the spatial
    dimensions of each sample and channel, the loss is
    ``1 - (2 * sum(p * t) + smooth_nr) / (sum(p) + sum(t) + smooth_dr)``,
    averaged over the batch (and channels). This is MONAI's ``DiceLoss(
    sigmoid=True)`` with its defaults (not squared, background included),
    the Dice term medvlsm and VLSM-Adapter trained with. The smoothing
    terms make an empty target with an empty prediction cost 0.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Key of the loss in the loss dict; it must contain
            ``'loss'`` to be back-propagated. Defaults to ``'loss_dice'``.
        smooth_nr (float): Added to the numerator. Defaults to 1e-5.
        smooth_dr (float): Added to the denominator. Defaults to 1e-5.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice',
                 smooth_nr: float = 1e-5,
                 smooth_dr: float = 1e-5):
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name
        self.smooth_nr = smooth_nr
        self.smooth_dr = smooth_dr

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
        # Full precision: fp16 sums over a 352 x 352 mask would overflow.
        prob = pred.float().sigmoid()
        target = as_float_target(target, prob)
        spatial_dims = tuple(range(2, prob.ndim))
        intersection = (prob * target).sum(spatial_dims)
        denominator = prob.sum(spatial_dims) + target.sum(spatial_dims)
        dice = (2 * intersection + self.smooth_nr) / (
            denominator + self.smooth_dr)
        return self.loss_weight * (1 - dice).mean()

    @property
    def loss_name(self) -> str:
        """str: Key of the loss in the loss dict."""
        return self._loss_name
