# Copyright (c) OpenMMLab. All rights reserved.
from .hub_cache import add_to_hub_cache
from .tiny_bert import save_tiny_bert
from .tiny_hf_vits import (save_tiny_hf_dinov2, save_tiny_hf_vit,
                           save_tiny_hf_vit_mae)
from .tiny_open_clip import save_tiny_open_clip
from .tiny_openai_clip import save_tiny_openai_clip, save_tiny_openai_clip_vit
from .tiny_vits import (TINY_PROMPTED_VITS, TINY_TIMM_VITS, TINY_VIT_FILES,
                        TINY_VIT_FORMATS, build_tiny_timm_vit, save_tiny_vit,
                        timm_vit_features, tiny_vit_checkpoint)
from .volumes import make_volume, write_dicom_series

__all__ = [
    'add_to_hub_cache', 'save_tiny_bert', 'save_tiny_hf_vit',
    'save_tiny_hf_vit_mae', 'save_tiny_hf_dinov2', 'save_tiny_open_clip',
    'save_tiny_openai_clip', 'save_tiny_openai_clip_vit', 'make_volume',
    'write_dicom_series', 'TINY_TIMM_VITS', 'TINY_PROMPTED_VITS',
    'TINY_VIT_FORMATS', 'TINY_VIT_FILES', 'build_tiny_timm_vit',
    'tiny_vit_checkpoint', 'save_tiny_vit', 'timm_vit_features'
]
