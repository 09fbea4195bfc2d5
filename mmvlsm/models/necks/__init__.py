# Copyright (c) OpenMMLab. All rights reserved.
from .cris_fpn import CRISFPN

__all__ = ['CRISFPN']
