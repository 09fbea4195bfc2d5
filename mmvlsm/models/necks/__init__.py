# Copyright (c) OpenMMLab. All rights reserved.
from .cris_fpn import CRISFPN
from .projection_neck import ProjectionNeck

__all__ = ['CRISFPN', 'ProjectionNeck']
