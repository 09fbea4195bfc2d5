# Copyright (c) OpenMMLab. All rights reserved.
from .clip_vit_checkpoint import (load_clip_vit_state_dict,
                                  openai_clip_vit_to_mmpretrain)
from .cris_checkpoint import (UNUSED_CRIS_KEYS, cris_to_mmvlsm, mmvlsm_to_cris,
                              strip_data_parallel_prefix)
from .checkpoint_files import read_encoder_checkpoint
from .encoder_checkpoint import (resnet_to_mmpretrain, timm_swin_to_mmpretrain,
                                 unfold_merge_order)
from .hf_loading import hf_from_pretrained, hf_loading_errors
from .hf_vit_checkpoints import (HF_VIT_MODEL_TYPES, hf_dinov2_to_mmpretrain,
                                 hf_vit_arch, hf_vit_mae_to_mmpretrain,
                                 hf_vit_to_mmpretrain, load_hf_vit_state_dict)
from .open_clip_loading import (open_clip_from_pretrained, open_clip_name,
                                open_clip_tokenizer)
from .openai_clip_loading import (CLIP_TEXT_KEYS, StateDict,
                                  load_openai_clip_state_dict,
                                  load_weights_exactly, read_clip_checkpoint)
from .punet_checkpoint import (add_depth_axis, drop_depth_axis,
                               mmvlsm_to_punet, punet_to_mmvlsm)
from .tokenizer import TokenizerConfig, build_tokenizer, openai_clip_tokenizer
from .vit_checkpoints import (VIT_FORMATS, dino_vit_to_mmpretrain,
                              fit_pos_embed, load_vit_state_dict,
                              mmpretrain_vit_to_mmpretrain,
                              read_vit_checkpoint, timm_vit_to_mmpretrain)

__all__ = [
    'hf_from_pretrained', 'hf_loading_errors', 'TokenizerConfig',
    'build_tokenizer', 'openai_clip_tokenizer', 'open_clip_from_pretrained',
    'open_clip_name', 'open_clip_tokenizer', 'load_openai_clip_state_dict',
    'load_weights_exactly', 'read_clip_checkpoint', 'CLIP_TEXT_KEYS',
    'load_clip_vit_state_dict', 'openai_clip_vit_to_mmpretrain',
    'UNUSED_CRIS_KEYS', 'cris_to_mmvlsm', 'mmvlsm_to_cris',
    'strip_data_parallel_prefix', 'punet_to_mmvlsm', 'mmvlsm_to_punet',
    'drop_depth_axis', 'add_depth_axis', 'HF_VIT_MODEL_TYPES',
    'load_hf_vit_state_dict', 'hf_vit_arch', 'hf_vit_to_mmpretrain',
    'hf_vit_mae_to_mmpretrain', 'hf_dinov2_to_mmpretrain', 'VIT_FORMATS',
    'load_vit_state_dict', 'read_vit_checkpoint', 'fit_pos_embed',
    'timm_vit_to_mmpretrain', 'dino_vit_to_mmpretrain',
    'mmpretrain_vit_to_mmpretrain', 'StateDict', 'read_encoder_checkpoint',
    'resnet_to_mmpretrain', 'timm_swin_to_mmpretrain', 'unfold_merge_order'
]
