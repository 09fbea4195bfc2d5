# Copyright (c) OpenMMLab. All rights reserved.
"""Reading ResNet and Swin image encoder checkpoints (torchvision, timm,
mmpretrain, CTransPath) in mmpretrain's backbone names."""
import re
from typing import List, Tuple

import torch

from .openai_clip_loading import StateDict


def resnet_to_mmpretrain(state_dict: StateDict,
                         fmt: str) -> Tuple[StateDict, List[str]]:
    """Name a ResNet's weights as in mmpretrain's ``ResNet``.

    torchvision's and timm's ResNets (v1.5: stride in the 3x3 conv, plain
    stem) already use mmpretrain's names (``conv1``, ``bn1``,
    ``layer1.0.conv1``, ``layer1.0.downsample.0``...); only their
    classifier ``fc`` goes. An mmpretrain checkpoint keeps its
    ``backbone.*`` weights, without that prefix.

    Args:
        state_dict (dict[str, Tensor]): The checkpoint's tensors.
        fmt (str): ``'torchvision'``, ``'timm'`` or ``'mmpretrain'``.

    Returns:
        tuple[dict[str, Tensor], list[str]]: The backbone's weights and the
        names of the dropped classifier (or neck/head) weights.
    """
    if fmt == 'mmpretrain':
        prefix = 'backbone.'
        kept = {
            key[len(prefix):]: value
            for key, value in state_dict.items() if key.startswith(prefix)
        }
        dropped = [key for key in state_dict if not key.startswith(prefix)]
    else:
        kept = {
            key: value
            for key, value in state_dict.items() if not key.startswith('fc.')
        }
        dropped = [key for key in state_dict if key.startswith('fc.')]
    return kept, dropped


_SWIN_BLOCK_RENAMES: Tuple[Tuple[str, str], ...] = (
    ('attn.', 'attn.w_msa.'),
    ('mlp.fc1.', 'ffn.layers.0.0.'),
    ('mlp.fc2.', 'ffn.layers.1.'),
)
_SWIN_BLOCK_KEY = re.compile(r'layers\.(\d+)\.blocks\.(\d+)\.(.+)')
_SWIN_DOWNSAMPLE_KEY = re.compile(r'layers\.(\d+)\.downsample\.(.+)')


def unfold_merge_order(value: torch.Tensor) -> torch.Tensor:
    """Reorder a 2x2 patch-merging weight from timm's to mmpretrain's order.

    timm concatenates the four neighbours channel blocks first,
    (w, h, C) with (h, w) = (0, 0), (1, 0), (0, 1), (1, 1); mmpretrain's
    ``nn.Unfold`` interleaves them, (C, h, w).

    Args:
        value (Tensor): The reduction weight (out, 4C) or the norm's
            weight or bias (4C, ).

    Returns:
        Tensor: The same shape, in mmpretrain's order.
    """
    lead = value.shape[:-1]
    channels = value.shape[-1] // 4
    blocks = value.reshape(*lead, 2, 2, channels)  # (..., w, h, C)
    return blocks.movedim(-1, -3).transpose(-1, -2).reshape(value.shape)


def timm_swin_to_mmpretrain(state_dict: StateDict, fmt: str,
                            num_stages: int) -> Tuple[StateDict, List[str]]:
    """Name a timm Swin Transformer's weights as in mmpretrain's.

    Two layouts: ``'ctranspath'`` is timm 0.5's (CTransPath's
    ``ctranspath.pth``, Microsoft's releases): a stage ends with its patch
    merging (``layers.0.downsample``) and the ``relative_position_index``
    and ``attn_mask`` buffers are saved. ``'timm'`` is timm 0.9+'s (Hub
    models such as ``timm/swin_tiny_patch4_window7_224.ms_in1k``): the
    merging starts the next stage (``layers.1.downsample``) and the
    buffers are not saved. Blocks, merging (reordered for ``nn.Unfold``)
    and the final ``norm`` get mmpretrain's names; ``patch_embed.*`` keeps
    its names (a ConvStem has them; mmpretrain's ``PatchEmbed`` calls its
    convolution ``projection``, renamed here).

    The ``attn_mask`` buffers are dropped: they are a function of the
    training input size, which mmpretrain recomputes for every input. Keys
    of no Swin keep their names, so that loading reports them.

    Args:
        state_dict (dict[str, Tensor]): The checkpoint's tensors.
        fmt (str): ``'ctranspath'`` or ``'timm'``.
        num_stages (int): Stages of the model, to name the final norm.

    Returns:
        tuple[dict[str, Tensor], list[str]]: The weights in mmpretrain's
        names and the names of the dropped classifier weights (``head.*``).
    """
    # The stage whose end a checkpoint's `layers.{i}.downsample` is.
    merge_shift = 0 if fmt == 'ctranspath' else 1
    converted, dropped = {}, []
    for key, value in state_dict.items():
        block = _SWIN_BLOCK_KEY.fullmatch(key)
        merge = _SWIN_DOWNSAMPLE_KEY.fullmatch(key)
        if key.startswith('head.'):
            dropped.append(key)
        elif key.endswith('attn_mask'):
            continue
        elif block is not None:
            stage, index, rest = block.groups()
            rest = next(
                (rest.replace(old, new, 1)
                 for old, new in _SWIN_BLOCK_RENAMES if rest.startswith(old)),
                rest)
            converted[f'stages.{stage}.blocks.{index}.{rest}'] = value
        elif merge is not None:
            stage = int(merge[1]) - merge_shift
            converted[f'stages.{stage}.downsample.{merge[2]}'] = \
                unfold_merge_order(value)
        elif key.startswith('norm.'):
            converted[f'norm{num_stages - 1}.{key[5:]}'] = value
        elif key in ('patch_embed.proj.weight', 'patch_embed.proj.bias'):
            converted[key.replace('.proj.', '.projection.')] = value
        else:
            converted[key] = value
    return converted, dropped
