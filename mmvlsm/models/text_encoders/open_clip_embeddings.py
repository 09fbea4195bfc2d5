# Copyright (c) OpenMMLab. All rights reserved.
from typing import Sequence

import torch
from torch import Tensor

from ..utils.open_clip_loading import (open_clip_from_pretrained,
                                       open_clip_loading_errors,
                                       open_clip_name)


@torch.no_grad()
def open_clip_text_embeddings(texts: Sequence[str], model: str) -> Tensor:
    """Embed texts with the text tower of an open_clip model.

    The embedding is open_clip's ``encode_text``: for BiomedCLIP
    (``'hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224'``)
    PubMedBERT's [CLS] state through BiomedCLIP's MLP projection, the
    feature its image embeddings were trained against. The texts are
    tokenized by the model's own open_clip tokenizer (padded to its context
    length).

    Args:
        texts (Sequence[str]): The texts.
        model (str): ``'hf-hub:ORG/REPO'``, ``'local-dir:DIR'`` or a
            directory, see :func:`~mmvlsm.models.utils.open_clip_name`.

    Returns:
        Tensor: (len(texts), the model's embedding size), fp32, not
        normalised.
    """
    import open_clip
    name = open_clip_name(model)
    clip = open_clip_from_pretrained(name).eval().float()
    with open_clip_loading_errors(name, 'tokenizer'):
        tokenizer = open_clip.get_tokenizer(name)
    return clip.encode_text(tokenizer(list(texts))).float()
