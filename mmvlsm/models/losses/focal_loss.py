# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvlsm.registry import MODELS


@MODELS.register_module()
class FocalLoss(nn.Module):
    """Multi-class focal loss of PUNet, with alpha weights on the CE term.

    For a pixel of class ``t`` with log-probability ``log p_t`` (the log
    softmax over the classes, clamped to >= -1e3) the loss is
    ``(1 - p_t) ** gamma * alpha[t] * (-log p_t)``, averaged over all pixels
    of the batch (a plain mean, not normalised by the weights).

    The modulating factor uses the unweighted probability ``p_t``; the alpha
    weight scales only the cross-entropy term. This is PUNet after the fix
    of its issue #1; before it, ``p`` came from the weighted NLL, i.e.
    ``p_t ** alpha[t]``, which let the weights change the focusing too.

    With ``gamma=0`` and unit weights it is the plain cross-entropy.

    Args:
        gamma (float): Focusing parameter. Defaults to 4.0 (PUNet).
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Key of the loss in the loss dict; it must contain
            ``'loss'`` to be back-propagated. Defaults to ``'loss_focal'``.
    """

    def __init__(self,
                 gamma: float = 4.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_focal'):
        super().__init__()
        self.gamma = gamma
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                logits: torch.Tensor,
                target: torch.Tensor,
                class_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            logits (Tensor): Raw class scores of shape (B, K, H, W).
            target (Tensor): Class indices in [0, K) of shape (B, H, W),
                ``int64``.
            class_weight (Tensor, optional): Alpha weights of shape (K,),
                shared by the batch, or (B, K), one row per sample (in PUNet
                ``1 + additive_alpha`` of the classes each sample's channels
                stand for, which depend on its active class). Defaults to
                None, i.e. all ones.

        Returns:
            Tensor: The weighted scalar loss.
        """
        if target.shape != logits.shape[:1] + logits.shape[2:]:
            raise ValueError(f'Target shape {tuple(target.shape)} does not '
                             f'match logits shape {tuple(logits.shape)}.')
        # Full precision: half-precision logits come out of AMP autocast.
        log_prob = F.log_softmax(logits.float(), dim=1).clamp(min=-1e3)
        target = target.long()
        nll = -log_prob.gather(1, target.unsqueeze(1)).squeeze(1)
        # 1 - p >= 0 holds mathematically; the clamp guards against rounding.
        modulation = (1 - torch.exp(-nll)).clamp(min=0)**self.gamma
        loss = modulation * nll
        if class_weight is not None:
            loss = loss * self._pixel_weight(
                class_weight.to(loss), target, logits.shape[1])
        return self.loss_weight * loss.mean()

    @staticmethod
    def _pixel_weight(class_weight: torch.Tensor, target: torch.Tensor,
                      num_classes: int) -> torch.Tensor:
        """Look up the alpha weight of every pixel's target class.

        Args:
            class_weight (Tensor): Weights of shape (K,) or (B, K).
            target (Tensor): Class indices of shape (B, H, W).
            num_classes (int): K.

        Returns:
            Tensor: Weights of shape (B, H, W).
        """
        batch_size = target.shape[0]
        if class_weight.shape == (num_classes, ):
            return class_weight[target]
        if class_weight.shape == (batch_size, num_classes):
            return class_weight.gather(1, target.flatten(1)).view_as(target)
        raise ValueError(f'class_weight must have shape ({num_classes},) or '
                         f'({batch_size}, {num_classes}), got '
                         f'{tuple(class_weight.shape)}.')

    @property
    def loss_name(self) -> str:
        """str: Key of the loss in the loss dict."""
        return self._loss_name
