# Copyright (c) OpenMMLab. All rights reserved.
from typing import Sequence

import torch
from torch import Tensor

from ..utils import (CLIP_TEXT_KEYS, load_openai_clip_state_dict,
                     load_weights_exactly, openai_clip_tokenizer)
from .clip_text_transformer import CLIPTextTransformer


@torch.no_grad()
def openai_clip_text_embeddings(texts: Sequence[str],
                                checkpoint: str) -> Tensor:
    """Embed texts with the text tower of an OpenAI CLIP checkpoint.

    This is zero-shot CLIP's classifier: the projected end-token feature of
    each text. The transformer's sizes are read from the weights (CLIP's
    heads are ``width // 64``).

    Args:
        texts (Sequence[str]): The texts.
        checkpoint (str): An OpenAI CLIP checkpoint (``ViT-B-16.pt``), see
            :func:`~mmvlsm.models.utils.load_openai_clip_state_dict`.

    Returns:
        Tensor: (len(texts), CLIP's embedding size), fp32.
    """
    state_dict = load_openai_clip_state_dict(checkpoint)
    weights = {
        key: value
        for key, value in state_dict.items() if key.startswith(CLIP_TEXT_KEYS)
    }
    context_length, width = weights['positional_embedding'].shape
    layers = 1 + max(
        int(key.split('.')[2])
        for key in weights if key.startswith('transformer.resblocks.'))
    encoder = CLIPTextTransformer(
        context_length=context_length,
        vocab_size=weights['token_embedding.weight'].shape[0],
        width=width,
        heads=width // 64,
        layers=layers,
        output_dim=weights['text_projection'].shape[1])
    load_weights_exactly(encoder, weights, f'"{checkpoint}" (text)')
    tokenizer = openai_clip_tokenizer(model_max_length=context_length)
    tokens = tokenizer(
        list(texts), padding=True, truncation=True, return_tensors='pt')
    _, sentences = encoder.eval()(tokens['input_ids'],
                                  tokens['attention_mask'])
    return sentences.float()
