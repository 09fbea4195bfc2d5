# Copyright (c) OpenMMLab. All rights reserved.
"""CLIPSeg's decoder, shared by every segmentor that hosts it.

The decoder is transformers' ``CLIPSegDecoder``: it reduces the activations
of a few ViT blocks to ``reduce_dim``, modulates the first by the
conditional (text) embedding (FiLM), mixes them with small transformer
layers and upsamples the patch grid to logits. CLIPSeg hosts it on CLIP's
encoders, BiomedCLIPSeg on BiomedCLIP's.
"""
from typing import Optional

import torch.nn as nn
from transformers import CLIPSegConfig, CLIPSegForImageSegmentation
from transformers.models.clipseg.modeling_clipseg import CLIPSegDecoder

from ..utils import hf_from_pretrained


def reset_clipseg_decoder_io_layers(decoder: CLIPSegDecoder) -> None:
    """Give the decoder's FiLM, reduce and upsampling layers torch's init.

    transformers initializes them with a normal of std
    ``initializer_factor`` (1.0), which makes the logits of a randomly
    initialized CLIPSeg explode (std around 100); torch's default
    (Kaiming-uniform) init keeps them near 0.
    """
    for part in (decoder.film_mul, decoder.film_add, decoder.reduces,
                 decoder.transposed_convolution):
        for layer in part.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                layer.reset_parameters()


def build_clipseg_decoder(vision_width: int,
                          patch_size: int,
                          embed_dim: int,
                          num_activations: int,
                          config: Optional[dict] = None,
                          pretrained: Optional[str] = None,
                          attn_implementation: str = 'sdpa') -> CLIPSegDecoder:
    """Build a CLIPSeg decoder for a host encoder.

    Either a new decoder from ``config`` with torch's default init in every
    layer (what ``CLIPSegDecoder(config)`` gave when medvlsm built
    BiomedCLIPSeg's), or
    the decoder of a pretrained CLIPSeg, whose shapes must then fit the
    host.

    Args:
        vision_width (int): Width C of the host's ViT tokens (B, N, C).
        patch_size (int): The host's patch size; the decoder upsamples the
            patch grid by it.
        embed_dim (int): Dimension of the conditional embedding.
        num_activations (int): Number of ViT blocks feeding the decoder.
        config (dict, optional): ``CLIPSegConfig`` keyword arguments of the
            decoder itself (``reduce_dim``, ``decoder_num_attention_heads``,
            ``decoder_intermediate_size``, ``conditional_layer``,
            ``use_complex_transposed_convolution``); the host's sizes are
            filled in. Defaults to None.
        pretrained (str, optional): A CLIPSeg Hub name or local directory
            (``CLIPSegForImageSegmentation``) whose decoder is copied.
            Exactly one of ``config`` and ``pretrained`` must be given.
        attn_implementation (str): ``'sdpa'`` or ``'eager'``. Defaults to
            ``'sdpa'``.

    Returns:
        CLIPSegDecoder: The decoder; ``decoder(activations, embeddings)``
        with ``num_activations`` tensors of shape (B, 1 + N, C) and
        embeddings of shape (B, embed_dim) gives logits of shape
        (B, sqrt(N) * patch_size, sqrt(N) * patch_size).
    """
    if (config is None) == (pretrained is None):
        raise ValueError('Give exactly one of the decoder `config` and '
                         '`pretrained`.')
    if pretrained is None:
        decoder = CLIPSegDecoder(
            CLIPSegConfig(
                **config,
                vision_config=dict(
                    hidden_size=vision_width, patch_size=patch_size),
                projection_dim=embed_dim,
                # Only their number matters to the decoder.
                extract_layers=list(range(num_activations)),
                attn_implementation=attn_implementation))
        # Recent transformers give modules its own init (normal, std 1.0
        # in the FiLM, reduce and upsampling layers) even outside a
        # PreTrainedModel; the versions medvlsm used left torch's.
        for module in decoder.modules():
            if module is not decoder and hasattr(module, 'reset_parameters'):
                module.reset_parameters()
        return decoder
    clipseg = hf_from_pretrained(
        CLIPSegForImageSegmentation,
        pretrained,
        attn_implementation=attn_implementation)
    hf_config = clipseg.config
    found = dict(
        vision_width=hf_config.vision_config.hidden_size,
        patch_size=hf_config.vision_config.patch_size,
        embed_dim=hf_config.projection_dim,
        num_activations=len(hf_config.extract_layers))
    expected = dict(
        vision_width=vision_width,
        patch_size=patch_size,
        embed_dim=embed_dim,
        num_activations=num_activations)
    if found != expected:
        raise ValueError(
            f'The decoder of "{pretrained}" does not fit this encoder: it '
            f'was built for {found}, the encoder needs {expected}.')
    return clipseg.decoder
