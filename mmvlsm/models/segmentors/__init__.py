# Copyright (c) OpenMMLab. All rights reserved.
from .base import TextPromptedSegmentor
from .clipseg import CLIPSeg

__all__ = ['TextPromptedSegmentor', 'CLIPSeg']
