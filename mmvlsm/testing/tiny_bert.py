# Copyright (c) OpenMMLab. All rights reserved.
"""A tiny random BERT saved as ``save_pretrained`` writes a Hub model."""
import os
import os.path as osp

import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

from .tiny_open_clip import tiny_vocabulary


def save_tiny_bert(directory: str,
                   pooler: bool = True,
                   hidden_size: int = 16,
                   seed: int = 0) -> str:
    """Write a random 2-layer BERT and its WordPiece tokenizer.

    The files are those of a BERT-family Hub model (``config.json``,
    ``model.safetensors``, the tokenizer's), so ``AutoModel`` and
    ``AutoTokenizer`` load the directory as they load PubMedBERT or
    BioLinkBERT. The vocabulary has every lowercase character and its
    ``##`` continuation, so any lowercase ASCII text tokenizes.

    Args:
        directory (str): Output directory, created if needed.
        pooler (bool): Save BERT's pooler. Defaults to True.
        hidden_size (int): Width of the model. Defaults to 16.
        seed (int): Seed of the random weights. Defaults to 0.

    Returns:
        str: ``directory``.
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    vocab_file = osp.join(directory, 'vocab.txt')
    with open(vocab_file, 'w', encoding='utf-8') as f:
        f.write('\n'.join(tiny_vocabulary()) + '\n')
    tokenizer = BertTokenizerFast(vocab_file, do_lower_case=True)
    tokenizer.save_pretrained(directory)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=64)
    torch.manual_seed(seed)
    BertModel(config, add_pooling_layer=pooler).save_pretrained(directory)
    return directory
