# Copyright (c) OpenMMLab. All rights reserved.
from .metrics import (DiceIoUMetric, SlideAccuracy, dice_iou,
                      surface_metric_keys)

__all__ = ['DiceIoUMetric', 'dice_iou', 'surface_metric_keys', 'SlideAccuracy']
