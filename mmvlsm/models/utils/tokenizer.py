# Copyright (c) OpenMMLab. All rights reserved.
"""Tokenizers for text-prompted segmentors."""
import gzip
import os.path as osp
from typing import Dict, List, Optional, Tuple, Union

import mmseg
from transformers import AutoTokenizer, CLIPTokenizer, PreTrainedTokenizerBase
from transformers.convert_slow_tokenizer import bytes_to_unicode

from .hf_loading import hf_from_pretrained
from .open_clip_loading import open_clip_tokenizer

TokenizerConfig = Union[str, dict, PreTrainedTokenizerBase]

# The OpenAI CLIP BPE merges that mmseg ships for its own CLIP text encoder.
MMSEG_BPE_PATH = osp.join(
    osp.dirname(mmseg.__file__), 'utils', 'bpe_simple_vocab_16e6.txt.gz')
# OpenAI CLIP keeps the first 49152 - 256 - 2 merges of that file, which
# with 2 x 256 byte tokens and 2 special tokens gives 49408 tokens.
NUM_CLIP_MERGES = 49152 - 256 - 2


def _read_openai_bpe(bpe_path: str) -> Tuple[Dict[str, int], List[tuple]]:
    """Rebuild CLIP's ``vocab.json`` and ``merges.txt`` from the BPE file.

    The token order is the one OpenAI's tokenizer (and the ``vocab.json`` of
    every CLIP checkpoint on the Hub) uses: the 256 byte symbols, the same
    with the end-of-word marker ``</w>``, one token per merge, then
    ``<|startoftext|>`` and ``<|endoftext|>``.
    """
    with gzip.open(bpe_path, 'rt', encoding='utf-8') as f:
        lines = f.read().split('\n')
    # Line 0 is the '#version' header.
    merges = [tuple(line.split()) for line in lines[1:NUM_CLIP_MERGES + 1]]
    byte_symbols = list(bytes_to_unicode().values())
    tokens = byte_symbols + [s + '</w>' for s in byte_symbols]
    tokens += [''.join(merge) for merge in merges]
    tokens += ['<|startoftext|>', '<|endoftext|>']
    return {token: i for i, token in enumerate(tokens)}, merges


def openai_clip_tokenizer(bpe_path: Optional[str] = None,
                          model_max_length: int = 77) -> CLIPTokenizer:
    """Build OpenAI CLIP's BPE tokenizer offline.

    The vocabulary and merges are derived in memory (about 0.2 s) from the
    BPE file mmseg ships, so no download or cache directory is involved.
    It is the tokenizer of every OpenAI CLIP model, including CLIPSeg:
    ``'a photo of a cat'`` gives ``[49406, 320, 1125, 539, 320, 2368,
    49407]``. Padding uses ``<|endoftext|>`` (49407), as on the Hub.

    Args:
        bpe_path (str, optional): Path of ``bpe_simple_vocab_16e6.txt.gz``.
            Defaults to None, i.e. the copy inside mmseg.
        model_max_length (int): CLIP's context length. Defaults to 77.

    Returns:
        CLIPTokenizer: A fast tokenizer with 49408 tokens.
    """
    vocab, merges = _read_openai_bpe(bpe_path or MMSEG_BPE_PATH)
    return CLIPTokenizer(
        vocab=vocab, merges=merges, model_max_length=model_max_length)


def build_tokenizer(cfg: TokenizerConfig) -> PreTrainedTokenizerBase:
    """Build a Hugging Face tokenizer from a config.

    Args:
        cfg (str | dict | PreTrainedTokenizerBase): One of

            - a Hub name or a local ``save_pretrained`` directory, loaded
              with ``AutoTokenizer.from_pretrained``;
            - ``dict(type='hf', name_or_path=..., **kwargs)``, the same with
              extra ``from_pretrained`` keyword arguments;
            - ``dict(type='openai_bpe', bpe_path=None,
              model_max_length=77)``, see :func:`openai_clip_tokenizer`;
            - ``dict(type='open_clip', name=...)``, the Hugging Face
              tokenizer of an open_clip model (``'hf-hub:ORG/REPO'`` or
              ``'local-dir:DIR'``), see
              :func:`~mmvlsm.models.utils.open_clip_loading.open_clip_tokenizer`;
            - an already built tokenizer, returned as is.

    Returns:
        PreTrainedTokenizerBase: The tokenizer.
    """
    if isinstance(cfg, PreTrainedTokenizerBase):
        return cfg
    if isinstance(cfg, str):
        return hf_from_pretrained(AutoTokenizer, cfg)
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError('A tokenizer config must be a Hub name or local '
                        'directory, a dict with a "type" key or a tokenizer, '
                        f'but got {cfg!r}.')
    kwargs = dict(cfg)
    tokenizer_type = kwargs.pop('type')
    if tokenizer_type == 'openai_bpe':
        return openai_clip_tokenizer(**kwargs)
    if tokenizer_type == 'hf':
        return hf_from_pretrained(AutoTokenizer, **kwargs)
    if tokenizer_type == 'open_clip':
        return open_clip_tokenizer(**kwargs)
    raise ValueError(f'Unknown tokenizer type "{tokenizer_type}"; expected '
                     '"hf", "openai_bpe" or "open_clip".')
