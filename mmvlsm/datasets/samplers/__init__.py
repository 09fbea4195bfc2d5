# Copyright (c) OpenMMLab. All rights reserved.
from .class_balanced_sampler import ClassBalancedInfiniteSampler

__all__ = ['ClassBalancedInfiniteSampler']
