# Copyright (c) OpenMMLab. All rights reserved.
from .cris_resnet import CRISResNet, SpatialAttentionPool2d

__all__ = ['CRISResNet', 'SpatialAttentionPool2d']
