# Copyright (c) OpenMMLab. All rights reserved.
from .hf_loading import hf_from_pretrained, hf_loading_errors
from .open_clip_loading import (open_clip_from_pretrained, open_clip_name,
                                open_clip_tokenizer)
from .tokenizer import TokenizerConfig, build_tokenizer, openai_clip_tokenizer

__all__ = [
    'hf_from_pretrained', 'hf_loading_errors', 'TokenizerConfig',
    'build_tokenizer', 'openai_clip_tokenizer', 'open_clip_from_pretrained',
    'open_clip_name', 'open_clip_tokenizer'
]
