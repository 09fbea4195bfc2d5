# Copyright (c) OpenMMLab. All rights reserved.
"""Tiny random transformers ViT, ViTMAE and DINOv2 models, saved with
``save_pretrained`` as the Hub checkpoints are (``google/vit-*`` and
``owkin/phikon`` are ``ViTModel``\\ s, ``facebook/vit-mae-*``
``ViTMAEForPreTraining``\\ s, ``facebook/dinov2-*`` ``Dinov2Model``\\ s)."""
import os
import os.path as osp
from typing import Union

import torch
from safetensors.torch import load_file
from transformers import (Dinov2Config, Dinov2Model, PreTrainedModel,
                          ViTConfig, ViTMAEConfig, ViTMAEForPreTraining,
                          ViTModel)

_TINY = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    image_size=32,
    patch_size=8)


def _save(model: PreTrainedModel, path: str, seed: int, weights: str,
          max_shard_size: Union[int, str]) -> PreTrainedModel:
    """Move every weight off its init, so that a weight landing in the wrong
    place (a LayerScale of ones, a zero bias) changes the features; then save
    ``model`` in eval mode, as ``model.safetensors`` (``weights=
    'safetensors'``) or ``pytorch_model.bin`` (``'bin'``, as older Hub
    repositories)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=generator))
    model.eval().save_pretrained(path, max_shard_size=max_shard_size)
    if weights == 'bin':
        safetensors = osp.join(path, 'model.safetensors')
        torch.save(load_file(safetensors), osp.join(path, 'pytorch_model.bin'))
        os.remove(safetensors)
    elif weights != 'safetensors':
        raise ValueError(f'Unknown weights format "{weights}".')
    return model


def save_tiny_hf_vit(path: str,
                     seed: int = 0,
                     weights: str = 'safetensors',
                     max_shard_size: Union[int, str] = '50GB',
                     **config) -> ViTModel:
    """Save a tiny random ``ViTModel`` (with its pooler) to ``path``.

    Args:
        path (str): The directory to write.
        seed (int): Seeds the weights. Defaults to 0.
        weights (str): ``'safetensors'`` or ``'bin'``.
            Defaults to ``'safetensors'``.
        max_shard_size (int | str): ``save_pretrained``'s; small values
            write a sharded checkpoint. Defaults to ``'50GB'``.
        **config: Overrides of the tiny ``ViTConfig`` (32 wide, 2 layers,
            4 heads, 32-px images in 8-px patches).

    Returns:
        ViTModel: The saved model, in eval mode.
    """
    torch.manual_seed(seed)
    model = ViTModel(ViTConfig(**{**_TINY, 'intermediate_size': 64, **config}))
    return _save(model, path, seed, weights, max_shard_size)


def save_tiny_hf_vit_mae(path: str,
                         seed: int = 0,
                         weights: str = 'safetensors',
                         max_shard_size: Union[int, str] = '50GB',
                         **config) -> ViTMAEForPreTraining:
    """Save a tiny random ``ViTMAEForPreTraining`` (encoder and decoder).

    Args:
        path, seed, weights, max_shard_size: As in :func:`save_tiny_hf_vit`.
        **config: Overrides of the tiny ``ViTMAEConfig`` (the encoder of
            :func:`save_tiny_hf_vit`, a 1-layer 16-wide decoder; the
            default ``mask_ratio`` of 0.75, as the Hub configs).

    Returns:
        ViTMAEForPreTraining: The saved model, in eval mode.
    """
    torch.manual_seed(seed)
    model = ViTMAEForPreTraining(
        ViTMAEConfig(
            **{
                **_TINY, 'intermediate_size': 64,
                'decoder_hidden_size': 16,
                'decoder_num_hidden_layers': 1,
                'decoder_num_attention_heads': 2,
                'decoder_intermediate_size': 32,
                **config
            }))
    return _save(model, path, seed, weights, max_shard_size)


def save_tiny_hf_dinov2(path: str,
                        seed: int = 0,
                        weights: str = 'safetensors',
                        max_shard_size: Union[int, str] = '50GB',
                        **config) -> Dinov2Model:
    """Save a tiny random ``Dinov2Model`` (with its mask token).

    Args:
        path, seed, weights, max_shard_size: As in :func:`save_tiny_hf_vit`.
        **config: Overrides of the tiny ``Dinov2Config`` (32 wide, 2
            layers, 4 heads, DINOv2's 14-px patches on 56-px images).

    Returns:
        Dinov2Model: The saved model, in eval mode.
    """
    torch.manual_seed(seed)
    model = Dinov2Model(
        Dinov2Config(**{
            **_TINY, 'image_size': 56,
            'patch_size': 14,
            **config
        }))
    return _save(model, path, seed, weights, max_shard_size)
