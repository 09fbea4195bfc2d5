# Copyright (c) OpenMMLab. All rights reserved.
from .text_embedding_head import TextEmbeddingHead

__all__ = ['TextEmbeddingHead']
