# Copyright (c) OpenMMLab. All rights reserved.
"""A tiny random open_clip model of BiomedCLIP's kind, saved locally.

BiomedCLIP is an open_clip ``CustomTextCLIP``: a timm ViT-B/16 image tower
and a Hugging Face BERT text tower (CLS pooling, MLP projection). The model
written here has the same structure with a tiny ViT (timm's
``vit_tiny_patch16_224``: 12 blocks of width 192) and a 2-layer BERT of
width 32 with a WordPiece vocabulary of a few hundred tokens, so that tests
and CI load it through the real open_clip code path without any download.
"""
import json
import os
import os.path as osp
import string
from typing import Optional

import open_clip
import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertTokenizerFast

# OpenAI CLIP's statistics, which BiomedCLIP's preprocessing uses.
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
WORDS = ('the a an of in on at with and is are image left right top bottom '
         'center middle upper lower red green blue yellow white black '
         'circle square triangle star cross shape filled polyp lesion '
         'tumor skin chest lung heart breast ultrasound xray small large '
         'round oval pink colon').split()


def tiny_vocabulary() -> list:
    """BERT's special tokens, characters and ``##`` continuations (so any
    ASCII text tokenizes) and a few whole words."""
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    words = sorted(set(WORDS) - set(chars))
    return (['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + chars +
            ['##' + c for c in string.ascii_lowercase + string.digits] + words)


def save_tiny_open_clip(directory: str,
                        timm_model_name: str = 'vit_tiny_patch16_224',
                        embed_dim: int = 64,
                        text_model_name: Optional[str] = None,
                        context_length: int = 256,
                        text_config: Optional[dict] = None,
                        seed: int = 0) -> 'open_clip.CustomTextCLIP':
    """Write a tiny random BiomedCLIP-like open_clip model to a directory.

    The directory gets what ``open_clip.create_model('local-dir:DIR')`` and
    ``open_clip.get_tokenizer('local-dir:DIR')`` read: the model's
    ``open_clip_config.json`` and ``open_clip_model.safetensors``, and the
    text tower's ``config.json`` and tokenizer files. Copied into a Hub
    cache as a repository it also loads as ``hf-hub:ORG/REPO``.

    Args:
        directory (str): Output directory, created if needed.
        timm_model_name (str): The timm ViT of the image tower. Defaults
            to ``'vit_tiny_patch16_224'``.
        embed_dim (int): Dimension of the text projection. Defaults to 64.
        text_model_name (str, optional): What ``text_cfg.hf_model_name`` and
            ``hf_tokenizer_name`` say, i.e. where open_clip looks for the
            text tower's config: a Hub name (e.g. of a repository in a test
            cache) or a directory. Defaults to None, i.e. ``directory``
            itself as an absolute path.
        context_length (int): The text context length. Defaults to 256,
            BiomedCLIP's.
        text_config (dict, optional): ``BertConfig`` sizes replacing the
            tiny ones, e.g. BERT-base's for a model of BiomedCLIP's size.
            Defaults to None.
        seed (int): Seed of the random weights. Defaults to 0.

    Returns:
        open_clip.CustomTextCLIP: The model that was saved, in eval mode.
    """
    os.makedirs(directory, exist_ok=True)
    directory = osp.abspath(directory)
    vocab_file = osp.join(directory, 'vocab.txt')
    with open(vocab_file, 'w', encoding='utf-8') as f:
        f.write('\n'.join(tiny_vocabulary()) + '\n')
    # Positional: the argument is `vocab_file` in transformers 4 and
    # `vocab` (a path or a dict) in 5.
    tokenizer = BertTokenizerFast(
        vocab_file, do_lower_case=True, model_max_length=context_length)
    tokenizer.save_pretrained(directory)
    sizes = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64)
    sizes.update(text_config or {})
    BertConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=context_length,
        **sizes).save_pretrained(directory)
    config = dict(
        model_cfg=dict(
            embed_dim=embed_dim,
            vision_cfg=dict(
                timm_model_name=timm_model_name,
                timm_model_pretrained=False,
                timm_pool='',
                timm_proj='linear',
                image_size=224),
            text_cfg=dict(
                hf_model_name=directory,
                hf_tokenizer_name=directory,
                hf_proj_type='mlp',
                hf_pooler_type='cls_last_hidden_state_pooler',
                context_length=context_length)),
        preprocess_cfg=dict(mean=CLIP_MEAN, std=CLIP_STD))
    config_file = osp.join(directory, 'open_clip_config.json')
    with open(config_file, 'w') as f:
        json.dump(config, f, indent=2)
    torch.manual_seed(seed)
    # The text tower is built from its config alone: there are no weights
    # to start from yet.
    model = open_clip.create_model(
        'local-dir:' + directory, load_weights=False, pretrained_text=False)
    save_file({
        k: v.contiguous()
        for k, v in model.state_dict().items()
    }, osp.join(directory, 'open_clip_model.safetensors'))
    if text_model_name is not None:
        text_cfg = config['model_cfg']['text_cfg']
        text_cfg['hf_model_name'] = text_cfg['hf_tokenizer_name'] = \
            text_model_name
        with open(config_file, 'w') as f:
            json.dump(config, f, indent=2)
    return model.eval()
