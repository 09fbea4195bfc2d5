# Copyright (c) OpenMMLab. All rights reserved.
from .vlsm_data_preprocessor import VLSMDataPreProcessor

__all__ = ['VLSMDataPreProcessor']
