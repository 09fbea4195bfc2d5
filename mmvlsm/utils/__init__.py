# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint import (allow_mmengine_checkpoint_globals,
                         install_checkpoint_loader, load_from_local)
from .config import bind_prompt_tokenizer, static_token_shapes_for_compile
from .mmcv_compat import install_mmcv_ops_fallback

__all__ = [
    'allow_mmengine_checkpoint_globals', 'bind_prompt_tokenizer',
    'install_checkpoint_loader', 'install_mmcv_ops_fallback',
    'load_from_local', 'static_token_shapes_for_compile'
]
