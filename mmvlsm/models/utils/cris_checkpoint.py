# Copyright (c) OpenMMLab. All rights reserved.
"""Key mapping between official CRIS checkpoints and mmvlsm's CRIS."""
import math
from typing import Dict, List

import torch

# (official prefix, mmvlsm prefix). The official model keeps the whole CLIP
# under `backbone`; mmvlsm splits it into the image `backbone` and the
# `text_encoder`, and puts the decoder and projector in the `decode_head`.
# Below each prefix the names are the same.
CRIS_KEY_PREFIXES = (
    ('backbone.visual.', 'backbone.'),
    ('backbone.token_embedding.', 'text_encoder.token_embedding.'),
    ('backbone.positional_embedding', 'text_encoder.positional_embedding'),
    ('backbone.transformer.', 'text_encoder.transformer.'),
    ('backbone.ln_final.', 'text_encoder.ln_final.'),
    ('backbone.text_projection', 'text_encoder.text_projection'),
    ('neck.', 'neck.'),
    ('decoder.', 'decode_head.decoder.'),
    ('proj.', 'decode_head.proj.'),
)
# Official weights mmvlsm's CRIS has no use for: CLIP's contrastive
# temperature.
UNUSED_CRIS_KEYS = ('backbone.logit_scale', )


def _map_prefix(key: str, forward: bool) -> str:
    for official, ours in CRIS_KEY_PREFIXES:
        source, target = (official, ours) if forward else (ours, official)
        if key.startswith(source):
            return target + key[len(source):]
    return None


def strip_data_parallel_prefix(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Remove the ``module.`` prefix (DataParallel / DDP) if every key has
    it."""
    if state_dict and all(key.startswith('module.') for key in state_dict):
        return {key[len('module.'):]: v for key, v in state_dict.items()}
    return dict(state_dict)


def cris_to_mmvlsm(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename an official CRIS state dict to mmvlsm's :class:`CRIS`.

    Args:
        state_dict (dict[str, Tensor]): The official state dict, with or
            without the ``module.`` prefix.

    Returns:
        dict[str, Tensor]: The same tensors under mmvlsm's names; the keys
        in :data:`UNUSED_CRIS_KEYS` are dropped.
    """
    state_dict = strip_data_parallel_prefix(state_dict)
    converted: Dict[str, torch.Tensor] = {}
    unknown: List[str] = []
    for key, value in state_dict.items():
        if key in UNUSED_CRIS_KEYS:
            continue
        new_key = _map_prefix(key, forward=True)
        if new_key is None:
            unknown.append(key)
        else:
            converted[new_key] = value
    if unknown:
        raise ValueError(f'{len(unknown)} keys are not CRIS weights: '
                         f'{unknown[:10]}. Is this a CRIS checkpoint?')
    return converted


def mmvlsm_to_cris(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename mmvlsm's :class:`CRIS` state dict to the official layout.

    The inverse of :func:`cris_to_mmvlsm`; ``backbone.logit_scale``, which
    mmvlsm does not keep, is set to CLIP's initial ``log(1 / 0.07)`` so the
    official code loads the result with ``strict=True``.

    Args:
        state_dict (dict[str, Tensor]): mmvlsm's state dict.

    Returns:
        dict[str, Tensor]: The official state dict (no ``module.``).
    """
    converted: Dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new_key = _map_prefix(key, forward=False)
        if new_key is None:
            raise ValueError(f'"{key}" is not a weight of mmvlsm\'s CRIS.')
        converted[new_key] = value
    converted['backbone.logit_scale'] = torch.tensor(math.log(1 / 0.07))
    return converted
