# Copyright (c) OpenMMLab. All rights reserved.
from .one_cycle_lr import OneCycleLR

__all__ = ['OneCycleLR']
