# Copyright (c) OpenMMLab. All rights reserved.
"""Tokenisation of the text prompt inside the data pipeline."""
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import BaseTransform
from transformers import PreTrainedTokenizerBase

from mmvlsm.models.utils import TokenizerConfig, build_tokenizer
from mmvlsm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class TokenizePrompt(BaseTransform):
    """Tokenise ``results['text']`` so that dataloader workers do it.

    The ids are padded to ``context_length`` here; the data preprocessor
    trims the batch to its longest prompt, so the model sees exactly what
    tokenising the batch at once with ``padding='longest'`` gives (tested).
    Put it after every transform that edits the text (such as
    :class:`TextAwareRandomFlip`) and before :class:`PackVLSMInputs`.

    ``tokenizer`` and ``context_length`` must be the model's. Left as None,
    the tools (``tools/train.py``, ``tools/test.py``, ``mmvlsm.apis``) fill
    them in from the model config with
    :func:`mmvlsm.utils.bind_prompt_tokenizer`, so that dataset configs need
    not know the model. A step that stays unbound (a dataset built from a
    config by hand) passes samples through untouched, and the model
    tokenises their text in the main process: same result, slower.

    Required Keys:

    - text (str)

    Added Keys:

    - input_ids (np.ndarray): int64 token ids of shape (context_length, ).
    - attention_mask (np.ndarray): int64, 1 for tokens and 0 for padding,
      shape (context_length, ).

    Args:
        tokenizer (str | dict, optional): The tokenizer config, see
            :func:`mmvlsm.models.utils.build_tokenizer`. Defaults to None.
        context_length (int, optional): Maximum number of tokens, start and
            end tokens included; longer prompts are truncated. Defaults to
            None.
    """

    def __init__(self,
                 tokenizer: Optional[TokenizerConfig] = None,
                 context_length: Optional[int] = None) -> None:
        self.tokenizer_cfg = tokenizer
        self.context_length = context_length
        # Built on first use, in the worker process.
        self._tokenizer: Optional[PreTrainedTokenizerBase] = None

    @property
    def bound(self) -> bool:
        """Whether a tokenizer and context length are set."""
        return self.tokenizer_cfg is not None and \
            self.context_length is not None

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        if self._tokenizer is None:
            self._tokenizer = build_tokenizer(self.tokenizer_cfg)
        return self._tokenizer

    def transform(self, results: dict) -> dict:
        """Add ``input_ids`` and ``attention_mask`` of ``results['text']``.

        Args:
            results (dict): Holds ``text`` (str).

        Returns:
            dict: ``results`` with the two arrays added (unchanged when the
            step is not bound).
        """
        if not self.bound:
            return results
        text = results.get('text')
        if not isinstance(text, str):
            raise ValueError(f'TokenizePrompt needs the prompt as a string in '
                             f'results["text"], got {text!r} for '
                             f'{results.get("img_path", "an unnamed image")}')
        tokens = self.tokenizer(
            text,
            padding='max_length',
            truncation=True,
            max_length=self.context_length)
        results['input_ids'] = np.asarray(tokens['input_ids'], np.int64)
        results['attention_mask'] = np.asarray(tokens['attention_mask'],
                                               np.int64)
        return results

    def __getstate__(self) -> dict:
        # Workers started with `spawn` rebuild the tokenizer themselves.
        state = self.__dict__.copy()
        state['_tokenizer'] = None
        return state

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(tokenizer={self.tokenizer_cfg!r}, '
                f'context_length={self.context_length})')


@TRANSFORMS.register_module()
class ReplacePromptText(BaseTransform):
    """Replace the chosen prompt of listed samples by a given text.

    Lets an analysis change the prompt of each record (shuffled across
    records, attribute words corrupted, emptied) without rewriting the
    annotation file. Put it first in the pipeline, or at least before every
    transform that reads or edits the text (``TextAwareRandomFlip``,
    ``TokenizePrompt``). Samples whose key is not in ``texts`` keep their
    prompt; ``default`` (if given) replaces theirs.

    Required Keys:

    - text (str)
    - the ``key`` field, e.g. mask_name (str)

    Modified Keys:

    - text

    Args:
        texts (dict[str, str]): New prompt of each sample, by the value of
            its ``key`` field. Defaults to an empty dict.
        key (str): Data info field identifying a sample; ``'mask_name'``
            is unique per record of a medvlsm file even when an image has
            several targets. Defaults to ``'mask_name'``.
        default (str, optional): Text of the samples not in ``texts``;
            None keeps their prompt. Defaults to None.
    """

    def __init__(self,
                 texts: Optional[Dict[str, str]] = None,
                 key: str = 'mask_name',
                 default: Optional[str] = None) -> None:
        texts = dict(texts or {})
        bad = [k for k, v in texts.items() if not isinstance(v, str)]
        if bad:
            raise ValueError('ReplacePromptText texts must map to strings; '
                             f'not so for {bad[:3]}')
        if default is not None and not isinstance(default, str):
            raise ValueError('ReplacePromptText default must be a string or '
                             f'None, got {type(default).__name__}')
        self.texts = texts
        self.key = key
        self.default = default

    def transform(self, results: dict) -> dict:
        """Set ``results['text']`` from ``texts`` or ``default``.

        Raises:
            KeyError: If ``results`` lacks the ``key`` field.
        """
        if self.key not in results:
            raise KeyError(f'ReplacePromptText identifies samples by '
                           f'{self.key!r}, which this sample lacks (it has '
                           f'{sorted(results)})')
        text = self.texts.get(results[self.key], self.default)
        if text is not None:
            results['text'] = text
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({len(self.texts)} texts, '
                f'key={self.key!r}, default={self.default!r})')
