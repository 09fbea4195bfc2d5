# Copyright (c) OpenMMLab. All rights reserved.
"""Compute a classifier's class-name embeddings once.

Reads the ``TextEmbeddingHead`` of CONFIG (``texts``, ``template``,
``text_encoder``) and embeds the class names as the head does when the
model is built: through the embedding cache
(``$MMVLSM_CACHE/text_embeddings``, default ``~/.cache/mmvlsm``), which
every later build with the same text model and class names reads instead
of the model. With OUT, the (num_classes, D) fp32 tensor is also saved
there, for a machine without the text model or the cache::

    python tools/misc/cache_text_embeddings.py CONFIG   # fill the cache
    python tools/misc/cache_text_embeddings.py CONFIG checkpoints/texts.pth
    python tools/train.py CONFIG --cfg-options \\
        model.head.text_embeddings_file=checkpoints/texts.pth \\
        model.head.text_encoder=None
"""
import argparse
import io
from typing import List, Optional

import torch

# Importing mmvlsm also installs the mmcv-lite fallbacks.
from mmvlsm.models.text_encoders import cache_file, cached_text_embeddings
from mmvlsm.utils.launch import add_cfg_options_args, load_config
from mmvlsm.utils.paths import check_not_an_input, write_atomic


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compute (and cache) the class-name embeddings of a "
        "config's TextEmbeddingHead")
    parser.add_argument('config', help='config file')
    parser.add_argument(
        'out', nargs='?', help='also save the embeddings to this .pth file')
    add_cfg_options_args(parser)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options,
                      args.cfg_options_allow_new)
    head = cfg.model.get('head') or {}
    if head.get('type') != 'TextEmbeddingHead':
        raise ValueError(f'{args.config} has no TextEmbeddingHead (its head '
                         f'is {head.get("type")!r})')
    if not head.get('text_encoder') or not head.get('texts'):
        raise ValueError(f'the head of {args.config} needs texts and a '
                         'text_encoder to embed them')
    if args.out:
        try:
            check_not_an_input(
                args.out,
                [args.config, head.get('text_embeddings_file')], 'OUT')
        except ValueError as err:
            raise SystemExit(f'cache_text_embeddings.py: error: {err}')
    template = head.get('template', '{}')
    use_cache = head.get('cache', True)
    embeddings = cached_text_embeddings(head['texts'], head['text_encoder'],
                                        template, use_cache)
    texts = [template.format(t) for t in head['texts']]
    print(f'{tuple(embeddings.shape)} embeddings of {texts}')
    if use_cache:
        print('cached in',
              cache_file(head['texts'], template, head['text_encoder']))
    if args.out:
        buffer = io.BytesIO()
        torch.save(embeddings, buffer)
        write_atomic(args.out, buffer.getvalue())
        print(f'saved to {args.out}')


if __name__ == '__main__':
    main()
