# Copyright (c) OpenMMLab. All rights reserved.
"""Loading of OpenAI CLIP checkpoints (``RN50.pt``, ``ViT-B-16.pt``...)."""
import os.path as osp
from typing import Dict, Sequence

import torch
import torch.nn as nn

# Entries of the TorchScript archives that are not weights.
NON_WEIGHT_KEYS = ('input_resolution', 'context_length', 'vocab_size')
StateDict = Dict[str, torch.Tensor]
# The CLIP text transformer's weights, by their names in CLIP.
CLIP_TEXT_KEYS = ('token_embedding.', 'positional_embedding', 'transformer.',
                  'ln_final.', 'text_projection')
# Where OpenAI publishes the CLIPs that CRIS (ResNets) and CITE (ViT-B/16)
# start from.
OPENAI_CLIP_URLS = {
    'RN50':
    'https://openaipublic.azureedge.net/clip/models/'
    'afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762/'
    'RN50.pt',
    'RN101':
    'https://openaipublic.azureedge.net/clip/models/'
    '8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599/'
    'RN101.pt',
    'ViT-B/16':
    'https://openaipublic.azureedge.net/clip/models/'
    '5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/'
    'ViT-B-16.pt',
}


def read_clip_checkpoint(path: str) -> StateDict:
    """Read a CLIP checkpoint on the CPU, as a flat dict of tensors.

    OpenAI distributes CLIP as TorchScript archives; a ``torch.save`` of a
    state dict (open_clip's ``.bin``, an mmpretrain checkpoint with its
    ``state_dict`` entry) is read as well. Floating-point tensors stored in
    fp16 are returned in fp32; the archives' non-weight entries are dropped.

    Args:
        path (str): The checkpoint file.

    Returns:
        dict[str, Tensor]: The tensors, named as in the file.

    Raises:
        FileNotFoundError: If ``path`` does not exist (the message gives
            the download addresses).
        ValueError: If the file holds no state dict.
    """
    if not osp.isfile(path):
        urls = ', '.join(f'{name}: {url}'
                         for name, url in OPENAI_CLIP_URLS.items())
        raise FileNotFoundError(
            f'CLIP checkpoint "{path}" not found. Download it to that path '
            f'({urls}) or set the config\'s `clip_pretrained` (CRIS) or '
            'the backbone\'s `pretrained` (PromptedViT) to where it '
            'is.')
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
    if isinstance(state_dict, dict) and isinstance(
            state_dict.get('state_dict'), dict):
        state_dict = state_dict['state_dict']
    if not isinstance(state_dict, dict):
        raise ValueError(f'"{path}" holds a {type(state_dict).__name__}, not '
                         'a state dict.')
    return {
        key: value.float() if value.is_floating_point() else value
        for key, value in state_dict.items()
        if key not in NON_WEIGHT_KEYS and isinstance(value, torch.Tensor)
    }


def load_openai_clip_state_dict(path: str) -> StateDict:
    """Read the weights of an OpenAI CLIP checkpoint on the CPU.

    See :func:`read_clip_checkpoint` for the file formats.

    Args:
        path (str): The checkpoint file.

    Returns:
        dict[str, Tensor]: The CLIP state dict (``visual.*``,
        ``transformer.*``, ``token_embedding.weight``, ...), in fp32.
    """
    state_dict = read_clip_checkpoint(path)
    if 'visual.conv1.weight' not in state_dict:
        raise ValueError(f'"{path}" is not an OpenAI CLIP checkpoint: it has '
                         'no "visual.conv1.weight".')
    return state_dict


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
