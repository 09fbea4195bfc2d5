# Copyright (c) OpenMMLab. All rights reserved.
from .dice_iou_metric import DiceIoUMetric, dice_iou, surface_metric_keys
from .slide_accuracy import SlideAccuracy

__all__ = ['DiceIoUMetric', 'dice_iou', 'surface_metric_keys', 'SlideAccuracy']
