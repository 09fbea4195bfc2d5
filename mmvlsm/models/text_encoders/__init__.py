# Copyright (c) OpenMMLab. All rights reserved.
from .bert_embeddings import BERT_KEYS, bert_text_embeddings, masked_mean
from .clip_text_transformer import CLIPTextTransformer
from .embedding_cache import cache_dir, cache_file, cached_text_embeddings
from .open_clip_embeddings import open_clip_text_embeddings
from .openai_clip_embeddings import openai_clip_text_embeddings
from .text_embeddings import (TEXT_ENCODERS, TextEncoder, encode_texts,
                              text_encoder_type)

__all__ = [
    'BERT_KEYS', 'bert_text_embeddings', 'masked_mean', 'CLIPTextTransformer',
    'cache_dir', 'cache_file', 'cached_text_embeddings',
    'open_clip_text_embeddings', 'openai_clip_text_embeddings',
    'TEXT_ENCODERS', 'TextEncoder', 'encode_texts', 'text_encoder_type'
]
