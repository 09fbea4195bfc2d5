# Copyright (c) OpenMMLab. All rights reserved.
"""Loading of OpenAI CLIP checkpoints (``RN50.pt``, ``RN101.pt``...)."""
import os.path as osp
from typing import Dict, Sequence

import torch
import torch.nn as nn

# Entries of the TorchScript archives that are not weights.
NON_WEIGHT_KEYS = ('input_resolution', 'context_length', 'vocab_size')
StateDict = Dict[str, torch.Tensor]
# Where OpenAI publishes the ResNet CLIPs CRIS starts from.
OPENAI_CLIP_URLS = {
    'RN50':
    'https://openaipublic.azureedge.net/clip/models/'
    'afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762/'
    'RN50.pt',
    'RN101':
    'https://openaipublic.azureedge.net/clip/models/'
    '8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599/'
    'RN101.pt',
}


def load_openai_clip_state_dict(path: str) -> StateDict:
    """Read the weights of an OpenAI CLIP checkpoint on the CPU.

    OpenAI distributes CLIP as TorchScript archives (``RN50.pt``,
    ``RN101.pt``); a plain ``torch.save`` of the same state dict is read as
    well. Weights stored in fp16 are returned in fp32.

    Args:
        path (str): The checkpoint file.

    Returns:
        dict[str, Tensor]: The CLIP state dict (``visual.*``,
        ``transformer.*``, ``token_embedding.weight``, ...).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'OpenAI CLIP checkpoint "{path}" not found. Download it to '
            f'that path (RN50: {OPENAI_CLIP_URLS["RN50"]}, RN101: '
            f'{OPENAI_CLIP_URLS["RN101"]}) or set the config\'s '
            '`clip_pretrained` to where it is.')
    try:
        state_dict = torch.jit.load(path, map_location='cpu').state_dict()
    except RuntimeError:
        try:
            state_dict = torch.load(
                path, map_location='cpu', weights_only=True)
        except Exception as error:
            raise ValueError(
                f'"{path}" is neither a TorchScript archive nor a state dict '
                f'saved by torch.save: {error}') from error
    if not isinstance(state_dict,
                      dict) or 'visual.conv1.weight' not in (state_dict):
        raise ValueError(f'"{path}" is not an OpenAI CLIP checkpoint: it has '
                         'no "visual.conv1.weight".')
    return {
        key: value.float() if value.is_floating_point() else value
        for key, value in state_dict.items() if key not in NON_WEIGHT_KEYS
    }


def load_weights_exactly(module: nn.Module,
                         state_dict: StateDict,
                         source: str,
                         allow_missing: Sequence[str] = ()):
    """Copy ``state_dict`` into ``module``, failing on any mismatch.

    Args:
        module (nn.Module): The module to fill.
        state_dict (dict[str, Tensor]): Weights named as in ``module``.
        source (str): Where the weights come from, for error messages.
        allow_missing (Sequence[str]): Prefixes of ``module``'s keys that
            the weights may lack (new layers that keep their init).
    """
    own = module.state_dict()
    mismatched = [
        f'{key}: {tuple(value.shape)} in {source}, '
        f'{tuple(own[key].shape)} in the model'
        for key, value in state_dict.items()
        if key in own and value.shape != own[key].shape
    ]
    missing = [
        key for key in own
        if key not in state_dict and not key.startswith(tuple(allow_missing))
    ]
    unexpected = [key for key in state_dict if key not in own]
    if mismatched or missing or unexpected:
        raise ValueError(
            f'The weights of {source} do not fit '
            f'{type(module).__name__}: shape mismatches {mismatched}, '
            f'missing {missing}, unexpected {unexpected}. Check that the '
            'model config matches the checkpoint (e.g. RN50 vs RN101).')
    module.load_state_dict(state_dict, strict=False)
