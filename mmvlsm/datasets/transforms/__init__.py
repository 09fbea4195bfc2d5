# Copyright (c) OpenMMLab. All rights reserved.
from .augmentations import TextAwareRandomFlip, swap_position_words
from .formatting import PackVLSMInputs
from .geometric import LetterBoxResize, RandomRot90
from .loading import LoadBinaryMask, LoadCheckedImageFromFile
from .text import TokenizePrompt

__all__ = [
    'LetterBoxResize', 'LoadBinaryMask', 'LoadCheckedImageFromFile',
    'PackVLSMInputs', 'RandomRot90', 'TextAwareRandomFlip', 'TokenizePrompt',
    'swap_position_words'
]
