# Copyright (c) OpenMMLab. All rights reserved.
from .vlsm_data_preprocessor import VLSMDataPreProcessor
from .volume_data_preprocessor import VolumeDataPreProcessor

__all__ = ['VLSMDataPreProcessor', 'VolumeDataPreProcessor']
