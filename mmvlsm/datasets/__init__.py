# Copyright (c) OpenMMLab. All rights reserved.
from .medvlsm import MedVLSMDataset, load_medvlsm_annotations
from .transforms import (LoadBinaryMask, LoadCheckedImageFromFile,
                         TextAwareRandomFlip)

__all__ = [
    'MedVLSMDataset', 'load_medvlsm_annotations', 'LoadBinaryMask',
    'LoadCheckedImageFromFile', 'TextAwareRandomFlip'
]
