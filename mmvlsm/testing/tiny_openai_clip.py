# Copyright (c) OpenMMLab. All rights reserved.
"""Tiny random OpenAI CLIPs, saved as OpenAI saves ``RN50.pt`` and
``ViT-B-16.pt``."""
import math
from typing import Sequence

import torch
import torch.nn as nn
from open_clip.modified_resnet import ModifiedResNet
from open_clip.transformer import QuickGELU, TextTransformer, VisionTransformer


class _OpenAICLIP(nn.Module):
    """The module layout (and so the state dict) of OpenAI's CLIPs:
    ``visual`` beside the text transformer's parts at the top level, plus
    the archive's ``input_resolution``, ``context_length`` and
    ``vocab_size`` entries."""

    def __init__(self, visual: nn.Module, embed_dim: int, image_size: int,
                 text_width: int, text_heads: int, text_layers: int):
        super().__init__()
        self.visual = visual
        text = TextTransformer(
            width=text_width,
            heads=text_heads,
            layers=text_layers,
            output_dim=embed_dim,
            act_layer=QuickGELU)
        self.token_embedding = text.token_embedding
        self.positional_embedding = text.positional_embedding
        self.transformer = text.transformer
        self.ln_final = text.ln_final
        self.text_projection = text.text_projection
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        for name, value in (('input_resolution', image_size),
                            ('context_length', text.context_length),
                            ('vocab_size', text.vocab_size)):
            self.register_buffer(name, torch.tensor(value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Only there for tracing, which keeps every parameter.
        return x * self.logit_scale


def _save_archive(model: nn.Module, path: str) -> None:
    torch.jit.trace(model.eval(), torch.zeros(1)).save(path)


def save_tiny_openai_clip(path: str,
                          layers: Sequence[int] = (1, 1, 1, 1),
                          width: int = 8,
                          embed_dim: int = 64,
                          heads: int = 4,
                          image_size: int = 128,
                          text_width: int = 64,
                          text_heads: int = 2,
                          text_layers: int = 2,
                          seed: int = 0) -> None:
    """Write a tiny random CLIP ResNet as a TorchScript archive.

    The keys, layout and file format are those of OpenAI's ``RN50.pt``;
    the defaults match the tiny CRIS config
    (``configs/cris/cris-tiny_1xb16-40it_toy-shapes-128x128.py``).

    Args:
        path (str): The ``.pt`` file to write.
        layers (Sequence[int]): Bottleneck blocks per stage.
        width (int): Stem width of the ResNet.
        embed_dim (int): CLIP's embedding size (attention pool output and
            text projection).
        heads (int): Heads of the attention pool.
        image_size (int): Input size of the attention pool's position
            embeddings.
        text_width (int): Width of the text transformer.
        text_heads (int): Its attention heads.
        text_layers (int): Its blocks.
        seed (int): Random seed of the weights.
    """
    torch.manual_seed(seed)
    visual = ModifiedResNet(
        list(layers), embed_dim, heads, image_size=image_size, width=width)
    model = _OpenAICLIP(visual, embed_dim, image_size, text_width, text_heads,
                        text_layers)
    # CLIP zero-initialises the last BN of each block; random values make
    # every weight matter in tests.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith('bn3.weight'):
                param.uniform_(0.5, 1.5)
    _save_archive(model, path)


def save_tiny_openai_clip_vit(path: str,
                              image_size: int = 32,
                              patch_size: int = 8,
                              width: int = 32,
                              layers: int = 2,
                              heads: int = 2,
                              embed_dim: int = 16,
                              text_width: int = 64,
                              text_heads: int = 1,
                              text_layers: int = 2,
                              seed: int = 0) -> None:
    """Write a tiny random CLIP ViT as a TorchScript archive.

    The keys, layout and file format are those of OpenAI's ``ViT-B-16.pt``
    (whose sizes are ``image_size=224, patch_size=16, width=768,
    layers=12, heads=12, embed_dim=512, text_width=512, text_heads=8,
    text_layers=12``). The LayerNorms get random affine parameters, so that
    every weight matters in tests.

    Args:
        path (str): The ``.pt`` file to write.
        image_size (int): Input size of the position embedding.
        patch_size (int): Patch size.
        width (int): Width of the image transformer.
        layers (int): Its blocks.
        heads (int): Its attention heads.
        embed_dim (int): CLIP's embedding size (both projections).
        text_width (int): Width of the text transformer (CLIP's heads are
            ``width // 64``).
        text_heads (int): Its attention heads.
        text_layers (int): Its blocks.
        seed (int): Random seed of the weights.
    """
    torch.manual_seed(seed)
    visual = VisionTransformer(
        image_size=image_size,
        patch_size=patch_size,
        width=width,
        layers=layers,
        heads=heads,
        mlp_ratio=4.0,
        output_dim=embed_dim,
        act_layer=QuickGELU)
    model = _OpenAICLIP(visual, embed_dim, image_size, text_width, text_heads,
                        text_layers)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if '.ln' in name or name.startswith('ln'):
                param.normal_(1.0 if name.endswith('weight') else 0.0, 0.1)
    _save_archive(model, path)
