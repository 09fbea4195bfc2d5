# Copyright (c) OpenMMLab. All rights reserved.
from .active_class import BinarizeActiveClass, RandomActiveClass
from .augmentations import TextAwareRandomFlip, swap_position_words
from .formatting import PackVLSMInputs
from .geometric import LetterBoxResize, RandomRot90
from .loading import LoadBinaryMask, LoadCheckedImageFromFile
from .text import ReplacePromptText, TokenizePrompt
from .volume import (LoadVolumeAnnotations, LoadVolumeFromFile,
                     PackVolumeInputs, RandomVolumeCrop)

__all__ = [
    'BinarizeActiveClass', 'LetterBoxResize', 'LoadBinaryMask',
    'LoadCheckedImageFromFile', 'PackVLSMInputs', 'RandomActiveClass',
    'RandomRot90', 'ReplacePromptText', 'TextAwareRandomFlip',
    'TokenizePrompt', 'swap_position_words', 'LoadVolumeAnnotations',
    'LoadVolumeFromFile', 'PackVolumeInputs', 'RandomVolumeCrop'
]
