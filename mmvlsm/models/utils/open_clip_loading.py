# Copyright (c) OpenMMLab. All rights reserved.
"""Loading open_clip models and their tokenizers with actionable errors.

open_clip names a model by where its files are:

- ``'hf-hub:ORG/REPO'``: ``open_clip_config.json`` and the weights
  (``open_clip_model.safetensors`` or ``open_clip_pytorch_model.bin``) of a
  Hugging Face Hub repository, read from the HF cache and downloaded unless
  ``HF_HUB_OFFLINE=1``;
- ``'local-dir:DIR'``: the same files in a local directory, plus the
  tokenizer's files (open_clip reads the tokenizer of a ``local-dir:`` model
  from DIR itself).

A model with a Hugging Face text tower (BiomedCLIP's PubMedBERT) also needs
the ``config.json`` of the model that ``text_cfg.hf_model_name`` names, and
for ``hf-hub:`` the tokenizer that ``text_cfg.hf_tokenizer_name`` names.

open_clip itself only warns and initialises at random when the weights are
missing; here that is an error that says which files go where.
"""
import json
import os
import os.path as osp
from contextlib import contextmanager
from typing import Iterator

import open_clip
from huggingface_hub import constants, is_offline_mode
from transformers import PreTrainedTokenizerBase

HF_HUB_PREFIX = 'hf-hub:'
LOCAL_DIR_PREFIX = 'local-dir:'


def open_clip_name(name_or_path: str) -> str:
    """Normalise a model reference to open_clip's ``hf-hub:``/``local-dir:``
    form.

    Args:
        name_or_path (str | os.PathLike): ``'hf-hub:ORG/REPO'``,
            ``'local-dir:DIR'`` or an existing directory (taken as
            ``'local-dir:DIR'``).

    Returns:
        str: The name open_clip's factory functions take.
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(
            'An open_clip model is named by "hf-hub:ORG/REPO", '
            f'"local-dir:DIR" or a directory, got {name_or_path!r}.')
    name_or_path = os.fspath(name_or_path)
    if name_or_path.startswith((HF_HUB_PREFIX, LOCAL_DIR_PREFIX)):
        return name_or_path
    if osp.isdir(name_or_path):
        return LOCAL_DIR_PREFIX + name_or_path
    raise ValueError(
        f'"{name_or_path}" is not an open_clip model: give "hf-hub:ORG/REPO" '
        '(a Hugging Face Hub repository with open_clip_config.json), '
        '"local-dir:DIR" or an existing directory holding those files.')


def _text_tower_names(name: str) -> str:
    """The Hugging Face names a local config's text tower needs, if known."""
    if not name.startswith(LOCAL_DIR_PREFIX):
        return ''
    config_file = osp.join(name[len(LOCAL_DIR_PREFIX):],
                           'open_clip_config.json')
    try:
        with open(config_file, encoding='utf-8') as f:
            text_cfg = json.load(f)['model_cfg']['text_cfg']
    except (OSError, ValueError, KeyError, TypeError):
        return ''
    model = text_cfg.get('hf_model_name')
    return f' Its text tower is "{model}".' if model else ''


@contextmanager
def open_clip_loading_errors(name: str, what: str) -> Iterator[None]:
    """Re-raise open_clip's loading errors with what to download where.

    Args:
        name (str): The ``hf-hub:`` or ``local-dir:`` name being loaded.
        what (str): What is loaded, for the message, e.g. ``'weights'``.

    Raises:
        FileNotFoundError: For a Hub name whose files are not available.
        OSError: For a local directory that lacks files. The original
            error is chained in both cases.
    """
    try:
        yield
    except (OSError, ValueError, RuntimeError) as err:
        if name.startswith(LOCAL_DIR_PREFIX):
            directory = name[len(LOCAL_DIR_PREFIX):]
            message = (
                f'Could not load the open_clip {what} from "{directory}". '
                'The directory must hold open_clip_config.json, the weights '
                '(open_clip_model.safetensors or open_clip_pytorch_model.bin)'
                ' and the tokenizer files, and the text tower named in the '
                'config must be a local directory or a Hugging Face Hub name '
                f'in the HF cache.{_text_tower_names(name)}')
            error_type = OSError
        else:
            repo = name[len(HF_HUB_PREFIX):]
            reason = ('downloading is disabled (HF_HUB_OFFLINE=1)'
                      if is_offline_mode() else
                      'the download failed (no network access?)')
            message = (
                f'Could not load the open_clip {what} "{name}": its files '
                f'are not all in the HF cache ({constants.HF_HUB_CACHE}) and '
                f'{reason}. On a machine with internet access run `hf '
                f'download {repo}` and `hf download` the text model and '
                'tokenizer its open_clip_config.json names (for BiomedCLIP '
                'microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract), then '
                'copy the cache here (or point HF_HOME at it); or put the '
                f'repository files in a directory and pass "{LOCAL_DIR_PREFIX}'
                'DIR".')
            error_type = FileNotFoundError
        raise error_type(f'{message}\nOriginal error: {err}') from err


def open_clip_from_pretrained(name_or_path: str) -> 'open_clip.CLIP':
    """Build an open_clip model with its pretrained weights, or fail.

    Args:
        name_or_path (str): See :func:`open_clip_name`.

    Returns:
        The open_clip model (``CLIP`` or ``CustomTextCLIP``) in train mode.
    """
    name = open_clip_name(name_or_path)
    with open_clip_loading_errors(name, 'model'):
        return open_clip.create_model(name, require_pretrained=True)


def open_clip_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """The Hugging Face tokenizer of an open_clip model with an HF text
    tower.

    Args:
        name (str): See :func:`open_clip_name`.

    Returns:
        PreTrainedTokenizerBase: The tokenizer open_clip's ``HFTokenizer``
        wraps (prompts are tokenised with it directly, as medvlsm did).
    """
    name = open_clip_name(name)
    with open_clip_loading_errors(name, 'tokenizer'):
        tokenizer = open_clip.get_tokenizer(name)
    if not isinstance(
            getattr(tokenizer, 'tokenizer', None), PreTrainedTokenizerBase):
        raise ValueError(
            f'The open_clip model "{name}" has no Hugging Face tokenizer '
            f'(its tokenizer is {type(tokenizer).__name__}); mmvlsm needs '
            'one that returns attention masks.')
    return tokenizer.tokenizer
