# Copyright (c) OpenMMLab. All rights reserved.
from .base import TextPromptedSegmentor
from .biomedclipseg import BiomedCLIPSeg
from .clipseg import CLIPSeg
from .cris import CRIS
from .punet import PUNet

__all__ = [
    'TextPromptedSegmentor', 'BiomedCLIPSeg', 'CLIPSeg', 'CRIS', 'PUNet'
]
