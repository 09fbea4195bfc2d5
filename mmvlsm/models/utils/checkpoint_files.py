# Copyright (c) OpenMMLab. All rights reserved.
"""Reading an image encoder's weights from a file, a folder or the Hub."""
import os.path as osp

import torch
from huggingface_hub import hf_hub_download
from safetensors.torch import load_file

from .hf_loading import hf_loading_errors
from .openai_clip_loading import StateDict

HF_HUB_PREFIX = 'hf-hub:'
# What ``save_pretrained`` / timm's ``push_to_hub`` put in a model folder,
# in the order they are looked for.
WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')
# Entries that wrap the weights in training checkpoints, tried in order:
# mmengine's, MAE's, DeiT's and CTransPath's, and DINO's EMA teacher (what
# HIPT loads).
WRAPPER_KEYS = ('state_dict', 'model', 'teacher')


def _weight_file(name_or_path: str, where: str) -> str:
    """The file that ``name_or_path`` (a file, folder or Hub name) names."""
    if name_or_path.startswith(HF_HUB_PREFIX):
        repo = name_or_path[len(HF_HUB_PREFIX):]
        with hf_loading_errors(repo, 'image encoder weights'):
            return hf_hub_download(repo, WEIGHT_FILES[0])
    if osp.isdir(name_or_path):
        found = [
            osp.join(name_or_path, name) for name in WEIGHT_FILES
            if osp.isfile(osp.join(name_or_path, name))
        ]
        if not found:
            raise FileNotFoundError(
                f'The folder "{name_or_path}" holds none of {WEIGHT_FILES}.')
        return found[0]
    if not osp.isfile(name_or_path):
        where = f' ({where})' if where else ''
        raise FileNotFoundError(
            f'Image encoder checkpoint "{name_or_path}" not found. Put the '
            f'checkpoint there{where}, or set the backbone\'s `pretrained` '
            'to where it is.')
    return name_or_path


def read_encoder_checkpoint(name_or_path: str, where: str = '') -> StateDict:
    """Read an image encoder's weights on the CPU, as a flat dict.

    The weights are taken out of a training checkpoint's ``state_dict``,
    ``model`` or ``teacher`` entry (the first found, repeatedly; DINO's
    student, optimizers and losses are ignored). Half-precision tensors are
    returned in fp32.

    Args:
        name_or_path (str): A weight file (``.safetensors``, or anything
            ``torch.save`` wrote: ``.pth``, ``.pt``, ``.bin``), a folder
            holding ``model.safetensors`` or ``pytorch_model.bin`` (a Hugging
            Face Hub snapshot of a timm model), or ``'hf-hub:ORG/REPO'``,
            whose ``model.safetensors`` comes from the HF cache (or is
            downloaded unless ``HF_HUB_OFFLINE=1``).
        where (str): Where to get the weights, for the missing-file error.
            Defaults to ''.

    Returns:
        dict[str, Tensor]: The tensors, named as in the file.

    Raises:
        FileNotFoundError: If the file, folder or Hub name cannot be found.
        ValueError: If the file cannot be read (a corrupt or partial
            download) or holds no state dict.
    """
    path = _weight_file(name_or_path, where)
    try:
        if path.endswith('.safetensors'):
            checkpoint = load_file(path)
        else:
            checkpoint = torch.load(
                path, map_location='cpu', weights_only=True)
    except Exception as error:
        raise ValueError(f'Could not read the checkpoint "{path}" (a corrupt '
                         f'or partial download?): {error}') from error
    while isinstance(checkpoint, dict):
        wrapper = next(
            (k for k in WRAPPER_KEYS if isinstance(checkpoint.get(k), dict)),
            None)
        if wrapper is None:
            break
        checkpoint = checkpoint[wrapper]
    if not isinstance(checkpoint, dict) or not any(
            isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ValueError(f'"{path}" holds no state dict (a '
                         f'{type(checkpoint).__name__} without tensors).')
    return {
        key:
        value.float() if value.dtype in (torch.float16,
                                         torch.bfloat16) else value
        for key, value in checkpoint.items()
        if isinstance(value, torch.Tensor)
    }
