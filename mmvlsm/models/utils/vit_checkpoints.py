# Copyright (c) OpenMMLab. All rights reserved.
"""ViT foundation-model checkpoints in mmpretrain's ``VisionTransformer``
names, for :class:`~mmvlsm.models.backbones.PromptedViT`.

Every format is a loader in :data:`VIT_FORMATS`: it reads a checkpoint (a
file, or for the ``hf_*`` formats a Hugging Face directory or Hub name) and
returns its image-encoder weights named as in ``PromptedViT``. Each key of
the file is either renamed, dropped because it is known to play no part in
the encoder's features (a classifier, MAE's decoder, DINO's projection
head), which is logged by name, or reported in a ``ValueError``.
"""
import os.path as osp
import re
from functools import partial
from typing import Callable, Dict, Iterable, Sequence, Tuple

import numpy as np
from mmengine.logging import MMLogger
from mmpretrain.models.utils import resize_pos_embed

from .checkpoint_files import read_encoder_checkpoint
from .clip_vit_checkpoint import load_clip_vit_state_dict
from .hf_vit_checkpoints import load_hf_vit_state_dict
from .openai_clip_loading import StateDict

# Where the official checkpoints of the shipped configs are published, by
# file name, for the message of a missing file.
OFFICIAL_URLS = {
    'mae_pretrain_vit_base.pth':
    'https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_base.pth',
    'mae_pretrain_vit_large.pth':
    'https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_large.pth',
    'RETFound_cfp_weights.pth':
    'https://github.com/rmaphoh/RETFound_MAE (color fundus weights)',
    'vit256_small_dino.pth':
    'https://github.com/mahmoodlab/HIPT/tree/master/HIPT_4K/Checkpoints',
    'dino_deitsmall16_pretrain.pth':
    'https://dl.fbaipublicfiles.com/dino/dino_deitsmall16_pretrain/'
    'dino_deitsmall16_pretrain.pth',
    'dinov2_vits14_pretrain.pth':
    'https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/'
    'dinov2_vits14_pretrain.pth',
    'dinov2_vitb14_pretrain.pth':
    'https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/'
    'dinov2_vitb14_pretrain.pth',
}
# The prefixes of DINO's training checkpoints (DistributedDataParallel and
# its MultiCropWrapper).
DINO_PREFIXES = ('module.', 'backbone.')

# timm's VisionTransformer names (shared by MAE, DINO and DINOv2) ->
# mmpretrain's, inside a block.
_TIMM_BLOCK_RENAMES: Tuple[Tuple[str, str], ...] = (
    ('norm1.', 'ln1.'),
    ('attn.qkv.', 'attn.qkv.'),
    ('attn.proj.', 'attn.proj.'),
    ('ls1.gamma', 'attn.gamma1.weight'),
    ('norm2.', 'ln2.'),
    ('mlp.fc1.', 'ffn.layers.0.0.'),
    ('mlp.fc2.', 'ffn.layers.1.'),
    ('ls2.gamma', 'ffn.gamma2.weight'),
)
# Outside the blocks. ``norm`` is the final norm of every token;
# ``fc_norm`` the norm after the mean of the patch tokens that timm (with
# ``fc_norm=True``) and MAE's fine-tuned models (``global_pool=True``) use
# in its place.
_TIMM_TOP_RENAMES: Tuple[Tuple[str, str], ...] = (
    ('cls_token', 'cls_token'),
    ('pos_embed', 'pos_embed'),
    ('patch_embed.proj.', 'patch_embed.projection.'),
    ('norm_pre.', 'pre_norm.'),
    ('norm.', 'ln1.'),
    ('fc_norm.', 'ln2.'),
)
_TIMM_BLOCK_KEY = re.compile(r'blocks\.(\d+)\.(.+)')
# What each format may hold beside the encoder, by key prefix.
_UNUSED = {
    'timm': ('head.', ),
    'mae': ('head.', 'mask_token', 'decoder_'),
    'dino': ('head.', ),
    'dinov2': ('mask_token', ),
}
# Keys of encoders that PromptedViT cannot represent, with the reason.
_UNSUPPORTED = {
    'register_tokens': 'DINOv2 with registers is not supported, use the '
    'register-free checkpoints (dinov2_vit*14_pretrain.pth)',
    'reg_token': 'register tokens are not supported',
    'dist_token': "DeiT's distillation token is not supported",
}


def _rename(key: str, renames: Iterable[Tuple[str, str]]):
    """``key`` with the first matching prefix replaced, or None."""
    return next((new + key[len(old):]
                 for old, new in renames if key.startswith(old)), None)


def _drop_unused(state_dict: StateDict, prefixes: Sequence[str],
                 fmt: str) -> StateDict:
    """Leave out (and log) the keys starting with ``prefixes``."""
    dropped = sorted(k for k in state_dict if k.startswith(tuple(prefixes)))
    if dropped:
        MMLogger.get_current_instance().info(
            f'Not part of the {fmt} ViT encoder, left out: {dropped}')
    return {k: v for k, v in state_dict.items() if k not in dropped}


def timm_vit_to_mmpretrain(state_dict: StateDict,
                           fmt: str = 'timm') -> StateDict:
    """Rename a ViT in timm's ``VisionTransformer`` names.

    Covers timm's own checkpoints (e.g. ``vit_base_patch16_224.augreg_in21k``)
    and the official MAE, DINO and DINOv2 encoders, written with the same
    module names: ``patch_embed.proj``, ``blocks.N.{norm1, attn.qkv,
    attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2, ls2.gamma}``, ``norm``
    (or ``fc_norm``). The keys ``fmt`` knows to be no part of the encoder
    (see :data:`VIT_FORMATS`) are dropped and logged.

    Args:
        state_dict (dict[str, Tensor]): The weights, unwrapped.
        fmt (str): The format, for its unused keys and the messages.
            Defaults to ``'timm'``.

    Returns:
        dict[str, Tensor]: The weights in mmpretrain's names (LayerScale as
        ``layers.N.attn.gamma1.weight`` / ``layers.N.ffn.gamma2.weight``).

    Raises:
        ValueError: Naming every key of no known ViT part.
    """
    converted, unknown = {}, []
    for key, value in _drop_unused(state_dict, _UNUSED[fmt], fmt).items():
        block = _TIMM_BLOCK_KEY.fullmatch(key)
        if block is not None:
            index, rest = block.groups()
            new = _rename(rest, _TIMM_BLOCK_RENAMES)
            new = None if new is None else f'layers.{index}.{new}'
        else:
            new = _rename(key, _TIMM_TOP_RENAMES)
        if new is None:
            unknown.append(key)
        else:
            converted[new] = value
    if unknown:
        reasons = [_UNSUPPORTED[k] for k in unknown if k in _UNSUPPORTED]
        raise ValueError(
            f'Unknown keys for the {fmt} ViT layout: {sorted(unknown)}' +
            ''.join(f'; {reason}' for reason in reasons))
    return converted


def dino_vit_to_mmpretrain(state_dict: StateDict) -> StateDict:
    """Rename an official DINO ViT (``dino_deitsmall16_pretrain.pth``, or a
    training checkpoint's teacher such as HIPT's ``vit256_small_dino.pth``,
    its ``module.`` / ``backbone.`` prefixes removed).

    Args:
        state_dict (dict[str, Tensor]): The weights, unwrapped.

    Returns:
        dict[str, Tensor]: The weights in mmpretrain's names; DINO's
        projection head (``head.*``) is left out.
    """
    stripped = {}
    for key, value in state_dict.items():
        for prefix in DINO_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
        stripped[key] = value
    return timm_vit_to_mmpretrain(stripped, 'dino')


def read_vit_checkpoint(path: str) -> StateDict:
    """Read a ViT checkpoint (see
    :func:`~mmvlsm.models.utils.read_encoder_checkpoint`); a missing file
    of a known name says where the official one is published."""
    url = OFFICIAL_URLS.get(osp.basename(path))
    return read_encoder_checkpoint(path, f'published at {url}' if url else '')


def mmpretrain_vit_to_mmpretrain(state_dict: StateDict) -> StateDict:
    """An mmpretrain ``VisionTransformer``'s weights, or those of the
    backbone of an mmpretrain classifier (``backbone.*``, the prefix
    removed; its neck and head are left out and logged).

    Args:
        state_dict (dict[str, Tensor]): The weights, unwrapped.

    Returns:
        dict[str, Tensor]: The backbone's weights.
    """
    prefix = 'backbone.'
    if not any(key.startswith(prefix) for key in state_dict):
        return state_dict
    others = sorted(k for k in state_dict if not k.startswith(prefix))
    if others:
        MMLogger.get_current_instance().info(
            f'Not part of the mmpretrain backbone, left out: {others}')
    return {
        key[len(prefix):]: value
        for key, value in state_dict.items() if key.startswith(prefix)
    }


def _file_format(
        fmt: str, convert: Callable[[StateDict],
                                    StateDict]) -> Callable[[str], StateDict]:
    """The loader of a file format: read, then ``convert``, naming the
    file in the conversion's errors."""

    def load(path: str) -> StateDict:
        state_dict = read_vit_checkpoint(path)
        try:
            return convert(state_dict)
        except ValueError as error:
            raise ValueError(f'"{path}" is no {fmt} ViT checkpoint: '
                             f'{error}') from error

    return load


# Format name -> loader of ``pretrained`` (a file, or a Hugging Face
# directory or Hub name for ``hf_*``) returning mmpretrain's names.
VIT_FORMATS: Dict[str, Callable[[str], StateDict]] = {
    # OpenAI's ViT-B-16.pt, open_clip and mmpretrain CLIP checkpoints.
    'clip': load_clip_vit_state_dict,
    # An mmpretrain VisionTransformer or classifier.
    'mmpretrain': _file_format('mmpretrain', mmpretrain_vit_to_mmpretrain),
    # timm's VisionTransformer (``model.safetensors`` / ``.bin`` of the
    # timm/* Hub repos); the classifier ``head.*`` is left out.
    'timm': _file_format('timm', timm_vit_to_mmpretrain),
    # MAE's .pth ({'model': ...}; RETFound's too): the pre-trained encoder
    # with ``norm`` (the decoder and mask token left out), or a fine-tuned
    # one with ``fc_norm`` (global pool; ``head.*`` left out).
    'mae': _file_format('mae', partial(timm_vit_to_mmpretrain, fmt='mae')),
    # DINO's .pth: the backbone, or a training checkpoint's teacher.
    'dino': _file_format('dino', dino_vit_to_mmpretrain),
    # DINOv2's torch.hub .pth (register-free, LayerScale, patch 14, 518 px;
    # the mask token left out).
    'dinov2': _file_format('dinov2',
                           partial(timm_vit_to_mmpretrain, fmt='dinov2')),
    # Hugging Face transformers' ViTModel, ViTMAEModel and Dinov2Model.
    'hf_vit': partial(load_hf_vit_state_dict, fmt='hf_vit'),
    'hf_vit_mae': partial(load_hf_vit_state_dict, fmt='hf_vit_mae'),
    'hf_dinov2': partial(load_hf_vit_state_dict, fmt='hf_dinov2'),
}


def load_vit_state_dict(pretrained: str, fmt: str) -> StateDict:
    """Read a ViT checkpoint in mmpretrain's names.

    Args:
        pretrained (str): The checkpoint file, or a Hugging Face directory
            or Hub name for the ``hf_*`` formats.
        fmt (str): A key of :data:`VIT_FORMATS`.

    Returns:
        dict[str, Tensor]: fp32 weights named as in ``PromptedViT``.

    Raises:
        FileNotFoundError: If the checkpoint is missing.
        ValueError: For an unknown format, an unreadable file, or keys that
            the format does not know (the message names the file).
    """
    if fmt not in VIT_FORMATS:
        raise ValueError(f'Unknown ViT checkpoint format "{fmt}", choose '
                         f'from {sorted(VIT_FORMATS)}.')
    return VIT_FORMATS[fmt](pretrained)


def fit_pos_embed(state_dict: StateDict, patch_resolution: Tuple[int, int],
                  num_extra_tokens: int, mode: str) -> StateDict:
    """Resize the position embedding to the model's patch grid.

    A checkpoint trained at another resolution (DINOv2's 518 px: 37 x 37
    patches of 14 px) is brought to the model's grid (16 x 16 at 224 px)
    once, on load, with the interpolation that mmpretrain's (and
    transformers') ViTs apply to inputs of another size: ``mode``
    (bicubic), ``align_corners=False``, no antialiasing. The class token's
    embedding is kept as it is. A square grid is assumed, as in every
    official checkpoint.

    Args:
        state_dict (dict[str, Tensor]): Weights in mmpretrain's names.
        patch_resolution (tuple[int, int]): The model's grid (H, W).
        num_extra_tokens (int): Tokens before the patches (the class token).
        mode (str): Interpolation mode.

    Returns:
        dict[str, Tensor]: ``state_dict``, its ``pos_embed`` resized if its
        grid was another.
    """
    pos_embed = state_dict.get('pos_embed')
    if pos_embed is None:
        return state_dict
    side = int(np.sqrt(pos_embed.shape[1] - num_extra_tokens))
    if (side * side != pos_embed.shape[1] - num_extra_tokens
            or (side, side) == tuple(patch_resolution)):
        return state_dict  # already fits, or a mismatch reported on load
    MMLogger.get_current_instance().info(
        f'Resizing the position embedding from {side}x{side} to '
        f'{patch_resolution[0]}x{patch_resolution[1]} patches ({mode}).')
    return dict(
        state_dict,
        pos_embed=resize_pos_embed(pos_embed, (side, side),
                                   tuple(patch_resolution), mode,
                                   num_extra_tokens))
