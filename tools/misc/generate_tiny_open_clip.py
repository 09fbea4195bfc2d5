# Copyright (c) OpenMMLab. All rights reserved.
"""Write a tiny random BiomedCLIP-like open_clip model to a directory.

It stands in for BiomedCLIP
(``hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224``) where
that cannot be downloaded: same structure (timm ViT/16 at 224 px,
BERT text tower with CLS pooling and MLP projection, 256-token context),
tiny sizes, random weights. The tiny BiomedCLIPSeg config loads it with
``pretrained='local-dir:data/tiny_biomedclip'``.
"""
import argparse
import os.path as osp

from mmvlsm.testing import save_tiny_open_clip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a tiny random BiomedCLIP-like open_clip model')
    parser.add_argument(
        '--out-dir', default='data/tiny_biomedclip', help='output directory')
    parser.add_argument(
        '--timm-model',
        default='vit_tiny_patch16_224',
        help='timm ViT of the image tower')
    parser.add_argument(
        '--embed-dim', type=int, default=64, help='text projection size')
    parser.add_argument(
        '--biomedclip-size',
        action='store_true',
        help='BiomedCLIP\'s sizes instead (ViT-B/16, BERT-base, 512-d '
        'projection), still random: for speed measurements')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    sizes = dict(timm_model_name=args.timm_model, embed_dim=args.embed_dim)
    if args.biomedclip_size:
        sizes = dict(
            timm_model_name='vit_base_patch16_224',
            embed_dim=512,
            text_config=dict(
                hidden_size=768,
                num_hidden_layers=12,
                num_attention_heads=12,
                intermediate_size=3072))
    save_tiny_open_clip(args.out_dir, seed=args.seed, **sizes)
    print('Wrote a tiny open_clip model to '
          f'{osp.abspath(args.out_dir)}; load it as '
          f'"local-dir:{args.out_dir}".')


if __name__ == '__main__':
    main()
