# Copyright (c) OpenMMLab. All rights reserved.
from .metrics import DiceIoUMetric, SlideAccuracy, dice_iou

__all__ = ['DiceIoUMetric', 'dice_iou', 'SlideAccuracy']
