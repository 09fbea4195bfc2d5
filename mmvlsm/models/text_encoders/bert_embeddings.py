# Copyright (c) OpenMMLab. All rights reserved.
from typing import Sequence

import torch
from torch import Tensor

from ..utils import hf_from_pretrained

# How a BERT-family model's token states become one embedding per text.
BERT_KEYS = ('pooler_output', 'cls', 'mean')


def masked_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean of the token states a mask keeps (padding left out).

    Args:
        hidden (Tensor): Token states, (B, L, D).
        mask (Tensor): Attention mask, (B, L), 1 for real tokens.

    Returns:
        Tensor: (B, D).
    """
    mask = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


@torch.no_grad()
def bert_text_embeddings(texts: Sequence[str],
                         model: str,
                         key: str = 'pooler_output') -> Tensor:
    """Embed texts with a frozen BERT-family model.

    The texts go through the model as one padded batch; the attention mask
    keeps the padding out of every key, so each embedding is the one the
    text gets alone (as CITE embeds them), up to float rounding.

    Args:
        texts (Sequence[str]): The texts.
        model (str): Hugging Face Hub name (read from the HF cache, offline
            with ``HF_HUB_OFFLINE=1``) or ``save_pretrained`` directory.
        key (str): ``'pooler_output'`` (BERT's tanh(W h_CLS + b), for models
            whose pooler was pretrained, e.g. BioLinkBERT, CITE's choice),
            ``'cls'`` (the raw [CLS] state) or ``'mean'`` (the mean of the
            token states, [CLS] and [SEP] included, as sentence-transformers
            models such as all-MiniLM-L6-v2 embed).

    Returns:
        Tensor: (len(texts), hidden size), fp32.
    """
    from transformers import AutoModel, AutoTokenizer
    if key not in BERT_KEYS:
        raise ValueError(f'Unknown key "{key}", choose from {BERT_KEYS}.')
    tokenizer = hf_from_pretrained(AutoTokenizer, model)
    encoder, info = hf_from_pretrained(
        AutoModel, model, output_loading_info=True)
    if key == 'pooler_output':
        # A pooler missing from the checkpoint would be randomly
        # initialised and make the class embeddings arbitrary (CITE's Q4).
        missing = [k for k in info['missing_keys'] if 'pooler' in k]
        if missing or getattr(encoder, 'pooler', None) is None:
            raise ValueError(
                f'"{model}" has no trained pooler (missing: {missing}); use '
                "key='cls' or key='mean', or a model with a pooler.")
    encoder.eval().float()
    tokens = tokenizer(
        list(texts), padding=True, truncation=True, return_tensors='pt')
    output = encoder(**tokens)
    if key == 'pooler_output':
        embeddings = output.pooler_output
    elif key == 'cls':
        embeddings = output.last_hidden_state[:, 0]
    else:
        embeddings = masked_mean(output.last_hidden_state,
                                 tokens['attention_mask'])
    return embeddings.float()
