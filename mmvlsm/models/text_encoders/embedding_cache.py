# Copyright (c) OpenMMLab. All rights reserved.
"""A cache of class-name embeddings shared by every run on a machine.

An entry is keyed by what the embeddings depend on: the encoder type, the
model's weights (:func:`~mmvlsm.models.utils.model_fingerprint`: content
hash of a local file or directory, commit of a Hub model), the encoder's
other options (BERT's ``key``), the template and the class names. A sweep
over image encoders with one text model therefore reads the text model
once. Entries are ``$MMVLSM_CACHE/text_embeddings/<sha256>.pth`` (default
``~/.cache/mmvlsm``), written atomically so concurrent runs never read a
partial file.
"""
import hashlib
import io
import json
import os
import os.path as osp
import warnings
from typing import Optional, Sequence

import torch
from torch import Tensor

from mmvlsm.utils.paths import write_atomic
from ..utils.model_fingerprint import model_fingerprint
from .text_embeddings import TEXT_ENCODERS, encode_texts, text_encoder_type

# Bump when the embeddings an unchanged config gives change.
CACHE_FORMAT = 1


def cache_dir() -> str:
    """``$MMVLSM_CACHE/text_embeddings`` (default ``~/.cache/mmvlsm``)."""
    root = os.environ.get('MMVLSM_CACHE') or osp.join('~', '.cache', 'mmvlsm')
    return osp.join(osp.expanduser(root), 'text_embeddings')


def cache_file(texts: Sequence[str], template: str,
               text_encoder: dict) -> Optional[str]:
    """Where the embeddings of ``texts`` are cached.

    Args:
        texts (Sequence[str]): Class names, before the template.
        template (str): Applied to every class name.
        text_encoder (dict): See
            :func:`~mmvlsm.models.text_encoders.encode_texts`.

    Returns:
        str | None: The cache file, or None while the model cannot be
        identified (a Hub model not downloaded yet).
    """
    options = dict(text_encoder)
    kind = text_encoder_type(options)
    options.pop('type', None)
    model_arg = TEXT_ENCODERS[kind].model_arg
    if model_arg not in options:
        raise ValueError(f'text_encoder of type "{kind}" needs "{model_arg}".')
    fingerprint = model_fingerprint(options.pop(model_arg))
    if fingerprint is None:
        return None
    material = dict(
        format=CACHE_FORMAT,
        type=kind,
        model=fingerprint,
        options=options,
        template=template,
        texts=list(texts))
    key = hashlib.sha256(
        json.dumps(material, sort_keys=True,
                   default=str).encode('utf-8')).hexdigest()
    return osp.join(cache_dir(), f'{key}.pth')


def _read_entry(path: str, num_texts: int) -> Optional[Tensor]:
    """The cached (num_texts, D) tensor, or None (with a warning) if the
    file does not hold one."""
    try:
        embeddings = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # truncated, not a torch file, ...
        reason = f'{type(err).__name__}: {err}'
    else:
        if (isinstance(embeddings, Tensor) and embeddings.dim() == 2
                and len(embeddings) == num_texts
                and embeddings.is_floating_point()):
            return embeddings.float()
        reason = 'it does not hold a (num_classes, D) float tensor'
    warnings.warn(f'Ignoring the corrupt text embedding cache file {path} '
                  f'({reason}); computing the embeddings again.')
    return None


def cached_text_embeddings(texts: Sequence[str],
                           text_encoder: dict,
                           template: str = '{}',
                           cache: bool = True) -> Tensor:
    """Embed class names, through the cache.

    Args:
        texts (Sequence[str]): Class names, in label order.
        text_encoder (dict): See
            :func:`~mmvlsm.models.text_encoders.encode_texts`.
        template (str): Applied to every class name. Defaults to ``'{}'``.
        cache (bool): Read and write the cache. Defaults to True.

    Returns:
        Tensor: (len(texts), D), fp32.
    """
    prompts = [template.format(text) for text in texts]
    path = cache_file(texts, template, text_encoder) if cache else None
    if path is not None and osp.exists(path):
        embeddings = _read_entry(path, len(texts))
        if embeddings is not None:
            return embeddings
    embeddings = encode_texts(prompts, text_encoder)
    if cache:
        # A Hub model has a commit only once it is in the HF cache.
        path = path or cache_file(texts, template, text_encoder)
    if path is not None:
        buffer = io.BytesIO()
        torch.save(embeddings, buffer)
        try:
            write_atomic(path, buffer.getvalue())
        except OSError as err:  # e.g. a read-only home: still usable
            warnings.warn(f'Could not write the text embedding cache file '
                          f'{path}: {err}')
    return embeddings
