# Copyright (c) OpenMMLab. All rights reserved.
from .augmentations import TextAwareRandomFlip, swap_position_words
from .loading import LoadBinaryMask, LoadCheckedImageFromFile

__all__ = [
    'LoadBinaryMask', 'LoadCheckedImageFromFile', 'TextAwareRandomFlip',
    'swap_position_words'
]
