# Copyright (c) OpenMMLab. All rights reserved.
from .tiny_bert import save_tiny_bert
from .tiny_open_clip import save_tiny_open_clip
from .tiny_openai_clip import save_tiny_openai_clip, save_tiny_openai_clip_vit
from .volumes import make_volume, write_dicom_series

__all__ = [
    'save_tiny_bert', 'save_tiny_open_clip', 'save_tiny_openai_clip',
    'save_tiny_openai_clip_vit', 'make_volume', 'write_dicom_series'
]
