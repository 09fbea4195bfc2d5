# Copyright (c) OpenMMLab. All rights reserved.
from .bce_loss import SigmoidBCELoss
from .dice_loss import SoftDiceLoss

__all__ = ['SigmoidBCELoss', 'SoftDiceLoss']
