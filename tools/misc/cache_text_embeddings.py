# Copyright (c) OpenMMLab. All rights reserved.
"""Compute a classifier's class-name embeddings once and save them.

Reads the ``TextEmbeddingHead`` of CONFIG (``texts``, ``template``,
``text_encoder``), embeds the class names as the head would when the model
is built, and saves the (num_classes, D) fp32 tensor to OUT. Configs then
load it instead of the text model (which BioLinkBERT-large makes worth
it: 1.3 GB read at every build)::

    python tools/misc/cache_text_embeddings.py CONFIG checkpoints/texts.pth
    python tools/train.py CONFIG --cfg-options \\
        model.head.text_embeddings_file=checkpoints/texts.pth \\
        model.head.text_encoder=None
"""
import argparse
import io

import torch

# Importing mmvlsm also installs the mmcv-lite fallbacks.
from mmvlsm.models.heads.text_embedding_head import encode_texts
from mmvlsm.utils.launch import add_cfg_options_args, load_config
from mmvlsm.utils.paths import write_atomic


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Save the class-name embeddings of a config's "
        'TextEmbeddingHead')
    parser.add_argument('config', help='config file')
    parser.add_argument('out', help='output .pth file')
    add_cfg_options_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options,
                      args.cfg_options_allow_new)
    head = cfg.model.get('head') or {}
    if head.get('type') != 'TextEmbeddingHead':
        raise ValueError(f'{args.config} has no TextEmbeddingHead (its head '
                         f'is {head.get("type")!r})')
    if not head.get('text_encoder') or not head.get('texts'):
        raise ValueError(f'the head of {args.config} needs texts and a '
                         'text_encoder to embed them')
    texts = [head.get('template', '{}').format(t) for t in head['texts']]
    embeddings = encode_texts(texts, head['text_encoder'])
    buffer = io.BytesIO()
    torch.save(embeddings, buffer)
    write_atomic(args.out, buffer.getvalue())
    print(f'{tuple(embeddings.shape)} embeddings of {texts} saved to '
          f'{args.out}')


if __name__ == '__main__':
    main()
