# Copyright (c) OpenMMLab. All rights reserved.
from typing import Callable, NamedTuple, Sequence

import torch
from torch import Tensor

from .bert_embeddings import bert_text_embeddings
from .open_clip_embeddings import open_clip_text_embeddings
from .openai_clip_embeddings import openai_clip_text_embeddings


class TextEncoder(NamedTuple):
    """A way of embedding texts with a frozen pretrained model.

    Attributes:
        embed (Callable): ``embed(texts, **options) -> (len(texts), D)``.
        model_arg (str): The option that names the model's weights.
    """
    embed: Callable[..., Tensor]
    model_arg: str


# text_encoder['type'] -> how to embed with it.
TEXT_ENCODERS = {
    'bert': TextEncoder(bert_text_embeddings, 'model'),
    'open_clip': TextEncoder(open_clip_text_embeddings, 'model'),
    'openai_clip': TextEncoder(openai_clip_text_embeddings, 'checkpoint'),
}


def text_encoder_type(text_encoder: dict) -> str:
    """The ``type`` of a ``text_encoder`` config (``'bert'`` if unset).

    Args:
        text_encoder (dict): See :func:`encode_texts`.

    Returns:
        str: A key of :data:`TEXT_ENCODERS`.
    """
    kind = text_encoder.get('type', 'bert')
    if kind not in TEXT_ENCODERS:
        raise ValueError(f'Unknown text_encoder type "{kind}", choose from '
                         f'{list(TEXT_ENCODERS)}.')
    return kind


def encode_texts(texts: Sequence[str], text_encoder: dict) -> Tensor:
    """Embed ``texts`` with the encoder a ``text_encoder`` config names.

    Args:
        texts (Sequence[str]): The texts.
        text_encoder (dict): ``type`` (a key of :data:`TEXT_ENCODERS`,
            default ``'bert'``) and that function's arguments:
            ``dict(type='bert', model=NAME_OR_DIR, key='pooler_output')``
            (:func:`bert_text_embeddings`), ``dict(type='open_clip',
            model='hf-hub:ORG/REPO')`` (:func:`open_clip_text_embeddings`)
            or ``dict(type='openai_clip', checkpoint=PATH)``
            (:func:`openai_clip_text_embeddings`).

    Returns:
        Tensor: (len(texts), D), fp32.
    """
    options = dict(text_encoder)
    kind = text_encoder_type(options)
    options.pop('type', None)
    # Loading a model may draw random numbers (weights it then overwrites);
    # a model built after the head must not depend on whether the
    # embeddings came from the model or from the cache.
    with torch.random.fork_rng(devices=[]):
        return TEXT_ENCODERS[kind].embed(texts, **options)
