# Copyright (c) OpenMMLab. All rights reserved.
from .clip_text_transformer import CLIPTextTransformer

__all__ = ['CLIPTextTransformer']
