# Copyright (c) OpenMMLab. All rights reserved.
"""A tiny random OpenAI CLIP ResNet, saved as OpenAI saves ``RN50.pt``."""
import math
from typing import Sequence

import torch
import torch.nn as nn
from open_clip.modified_resnet import ModifiedResNet
from open_clip.transformer import QuickGELU, TextTransformer


class _OpenAICLIPResNet(nn.Module):
    """The module layout (and so the state dict) of OpenAI's CLIP ResNets:
    ``visual`` beside the text transformer's parts at the top level, plus
    the archive's ``input_resolution``, ``context_length`` and
    ``vocab_size`` entries."""

    def __init__(self, layers: Sequence[int], width: int, embed_dim: int,
                 heads: int, image_size: int, text_width: int, text_heads: int,
                 text_layers: int):
        super().__init__()
        self.visual = ModifiedResNet(
            list(layers), embed_dim, heads, image_size=image_size, width=width)
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
    model = _OpenAICLIPResNet(layers, width, embed_dim, heads, image_size,
                              text_width, text_heads, text_layers).eval()
    # CLIP zero-initialises the last BN of each block; random values make
    # every weight matter in tests.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith('bn3.weight'):
                param.uniform_(0.5, 1.5)
    torch.jit.trace(model, torch.zeros(1)).save(path)
