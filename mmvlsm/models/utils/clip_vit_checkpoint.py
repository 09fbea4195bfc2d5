# Copyright (c) OpenMMLab. All rights reserved.
"""CLIP ViT image encoders in mmpretrain's ``VisionTransformer`` names."""
import re
from typing import Tuple

from .openai_clip_loading import StateDict, read_clip_checkpoint

# OpenAI / open_clip name -> mmpretrain name, inside a residual block.
_BLOCK_RENAMES: Tuple[Tuple[str, str], ...] = (
    ('ln_1.', 'ln1.'),
    ('ln_2.', 'ln2.'),
    ('attn.in_proj_weight', 'attn.qkv.weight'),
    ('attn.in_proj_bias', 'attn.qkv.bias'),
    ('attn.out_proj.', 'attn.proj.'),
    ('mlp.c_fc.', 'ffn.layers.0.0.'),
    ('mlp.c_proj.', 'ffn.layers.1.'),
)
# Outside the blocks.
_TOP_RENAMES: Tuple[Tuple[str, str], ...] = (
    ('conv1.weight', 'patch_embed.projection.weight'),
    ('ln_pre.', 'pre_norm.'),
    ('ln_post.', 'ln1.'),
)
_BLOCK_KEY = re.compile(r'transformer\.resblocks\.(\d+)\.(.+)')


def openai_clip_vit_to_mmpretrain(visual: StateDict) -> StateDict:
    """Rename an OpenAI / open_clip CLIP ViT image encoder.

    Args:
        visual (dict[str, Tensor]): The ``visual.*`` weights without that
            prefix: ``conv1.weight``, ``class_embedding``,
            ``positional_embedding``, ``ln_pre``, ``transformer.resblocks.*``,
            ``ln_post`` and ``proj``.

    Returns:
        dict[str, Tensor]: The same weights named as in
        :class:`~mmvlsm.models.backbones.PromptedViT` (mmpretrain's
        ``VisionTransformer`` plus ``proj``): the class and position
        embeddings get their leading batch dimensions.

    Raises:
        ValueError: For a key of no CLIP ViT.
    """
    converted = {}
    for key, value in visual.items():
        block = _BLOCK_KEY.fullmatch(key)
        if key == 'class_embedding':
            converted['cls_token'] = value[None, None]
        elif key == 'positional_embedding':
            converted['pos_embed'] = value[None]
        elif key == 'proj':
            converted['proj'] = value
        elif block is not None:
            index, rest = block.groups()
            new = next(
                (rest.replace(old, new, 1)
                 for old, new in _BLOCK_RENAMES if rest.startswith(old)), None)
            if new is None:
                raise ValueError(f'Unknown CLIP ViT block weight "{key}".')
            converted[f'layers.{index}.{new}'] = value
        else:
            new = next((key.replace(old, new, 1)
                        for old, new in _TOP_RENAMES if key.startswith(old)),
                       None)
            if new is None:
                raise ValueError(f'Unknown CLIP ViT weight "{key}".')
            converted[new] = value
    return converted


def load_clip_vit_state_dict(path: str) -> StateDict:
    """Read the image encoder of a CLIP ViT checkpoint, for ``PromptedViT``.

    Three layouts are recognised: OpenAI's archives (``ViT-B-16.pt``) and
    open_clip's state dicts, which share OpenAI's names (``visual.conv1``,
    ``visual.transformer.resblocks.*``, ...), and mmpretrain's CLIP
    checkpoints (``visual.*`` in mmpretrain's names, ``visual_proj.proj``).
    The text tower and ``logit_scale`` are left out.

    Args:
        path (str): The checkpoint, see
            :func:`~mmvlsm.models.utils.read_clip_checkpoint`.

    Returns:
        dict[str, Tensor]: fp32 weights named as in ``PromptedViT``.

    Raises:
        ValueError: If the file is no CLIP ViT checkpoint (a CLIP ResNet
            included).
    """
    state_dict = read_clip_checkpoint(path)
    visual = {
        key[len('visual.'):]: value
        for key, value in state_dict.items() if key.startswith('visual.')
    }
    if 'class_embedding' in visual:
        return openai_clip_vit_to_mmpretrain(visual)
    if 'cls_token' in visual:
        if 'visual_proj.proj' in state_dict:
            visual['proj'] = state_dict['visual_proj.proj']
        return visual
    kind = ('a CLIP ResNet (it has visual.conv1 but no '
            'visual.class_embedding)' if 'conv1.weight' in visual else
            'no CLIP image encoder (no visual.* weights)')
    raise ValueError(f'"{path}" holds {kind}; PromptedViT needs a CLIP ViT '
                     'checkpoint such as OpenAI\'s ViT-B-16.pt.')
