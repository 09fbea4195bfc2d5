# Copyright (c) OpenMMLab. All rights reserved.
"""Reading ResNet and Swin image encoder checkpoints (torchvision, timm,
mmpretrain, CTransPath) in mmpretrain's backbone names."""
import os.path as osp
import re
from typing import List, Tuple

import torch
from huggingface_hub import hf_hub_download
from safetensors.torch import load_file

from .hf_loading import hf_loading_errors
from .openai_clip_loading import StateDict

HF_HUB_PREFIX = 'hf-hub:'
# What ``save_pretrained`` / timm's ``push_to_hub`` put in a model folder,
# in the order they are looked for.
WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')


def read_encoder_checkpoint(name_or_path: str, where: str) -> StateDict:
    """Read an image encoder's weights on the CPU, as a flat dict.

    Args:
        name_or_path (str): A weight file (``.pth``/``.pt``/``.bin`` written
            by ``torch.save``, or ``.safetensors``), a folder holding
            ``model.safetensors`` or ``pytorch_model.bin`` (a Hugging Face
            Hub snapshot of a timm model), or ``'hf-hub:ORG/REPO'``, whose
            ``model.safetensors`` comes from the HF cache (or is downloaded
            unless ``HF_HUB_OFFLINE=1``). A ``state_dict`` (mmengine) or
            ``model`` (CTransPath) entry is unwrapped.
        where (str): Where to get the weights, for the missing-file error.

    Returns:
        dict[str, Tensor]: The tensors, named as in the file.

    Raises:
        FileNotFoundError: If the file, folder or Hub name cannot be found.
        ValueError: If the file holds no state dict.
    """
    path = name_or_path
    if name_or_path.startswith(HF_HUB_PREFIX):
        repo = name_or_path[len(HF_HUB_PREFIX):]
        with hf_loading_errors(repo, 'image encoder weights'):
            path = hf_hub_download(repo, WEIGHT_FILES[0])
    elif osp.isdir(name_or_path):
        found = [
            osp.join(name_or_path, name) for name in WEIGHT_FILES
            if osp.isfile(osp.join(name_or_path, name))
        ]
        if not found:
            raise FileNotFoundError(
                f'The folder "{name_or_path}" holds none of {WEIGHT_FILES}.')
        path = found[0]
    elif not osp.isfile(name_or_path):
        raise FileNotFoundError(
            f'Image encoder checkpoint "{name_or_path}" not found. Put the '
            f'weights there ({where}) or set the config\'s `pretrained` to '
            'where they are.')

    if path.endswith('.safetensors'):
        state_dict = load_file(path)
    else:
        try:
            state_dict = torch.load(
                path, map_location='cpu', weights_only=True)
        except Exception as error:
            raise ValueError(f'"{path}" is not a state dict saved by '
                             f'torch.save: {error}') from error
    for wrapper in ('state_dict', 'model'):
        if isinstance(state_dict, dict) and isinstance(
                state_dict.get(wrapper), dict):
            state_dict = state_dict[wrapper]
            break
    if not isinstance(state_dict, dict):
        raise ValueError(f'"{path}" holds a {type(state_dict).__name__}, not '
                         'a state dict.')
    return {
        key: value
        for key, value in state_dict.items()
        if isinstance(value, torch.Tensor)
    }


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
