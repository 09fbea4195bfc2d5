# Copyright (c) OpenMMLab. All rights reserved.
from .adapt import (adapt_model, freeze_norm_statistics, keep_trained_state,
                    parameter_table, trained_state_keys)
from .adapter import Adapter
from .inserters import (ActivationAdapters, EmbeddingAdapter, FeatureAdapters,
                        LoRA, ResidualAdapters, TextLayerAdapters)

__all__ = [
    'Adapter', 'ActivationAdapters', 'EmbeddingAdapter', 'FeatureAdapters',
    'LoRA', 'ResidualAdapters', 'TextLayerAdapters', 'adapt_model',
    'freeze_norm_statistics', 'keep_trained_state', 'parameter_table',
    'trained_state_keys'
]
