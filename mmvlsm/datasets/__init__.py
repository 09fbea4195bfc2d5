# Copyright (c) OpenMMLab. All rights reserved.
from .medvlsm import MedVLSMDataset, load_medvlsm_annotations
from .multiclass_slices import MultiClassSliceDataset, load_slice_annotations
from .patch_classification import SlidePatchDataset, parse_patch_annotations
from .samplers import ClassBalancedInfiniteSampler
from .transforms import (BinarizeActiveClass, LoadBinaryMask,
                         LoadCheckedImageFromFile, LoadVolumeAnnotations,
                         LoadVolumeFromFile, PackVolumeInputs,
                         RandomActiveClass, RandomVolumeCrop,
                         TextAwareRandomFlip)
from .volume_patches import MultiClassVolumeDataset, load_volume_annotations

__all__ = [
    'MedVLSMDataset', 'load_medvlsm_annotations', 'LoadBinaryMask',
    'LoadCheckedImageFromFile', 'TextAwareRandomFlip', 'SlidePatchDataset',
    'parse_patch_annotations', 'ClassBalancedInfiniteSampler',
    'MultiClassSliceDataset', 'load_slice_annotations', 'RandomActiveClass',
    'BinarizeActiveClass', 'MultiClassVolumeDataset',
    'load_volume_annotations', 'LoadVolumeFromFile', 'LoadVolumeAnnotations',
    'RandomVolumeCrop', 'PackVolumeInputs'
]
