# Copyright (c) OpenMMLab. All rights reserved.
from .text_embedding_head import TextEmbeddingHead, bert_text_embeddings

__all__ = ['TextEmbeddingHead', 'bert_text_embeddings']
