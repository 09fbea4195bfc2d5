# Copyright (c) OpenMMLab. All rights reserved.
from .cris_resnet import CRISResNet, SpatialAttentionPool2d
from .pretrained_encoders import ConvStem, ResNetEncoder, SwinEncoder
from .prompted_vit import PromptedViT
from .punet_encoder import PUNetEncoder

__all__ = [
    'CRISResNet', 'SpatialAttentionPool2d', 'PromptedViT', 'PUNetEncoder',
    'ResNetEncoder', 'SwinEncoder', 'ConvStem'
]
