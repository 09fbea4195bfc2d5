# Copyright (c) OpenMMLab. All rights reserved.
from .bce_loss import SigmoidBCELoss
from .cpa_loss import ContrastivePrototypeLoss
from .dice_loss import SoftDiceLoss
from .focal_loss import FocalLoss

__all__ = [
    'SigmoidBCELoss', 'SoftDiceLoss', 'FocalLoss', 'ContrastivePrototypeLoss'
]
