# Copyright (c) OpenMMLab. All rights reserved.
from .volume_data import VolumeData

__all__ = ['VolumeData']
