# Copyright (c) OpenMMLab. All rights reserved.
"""Write tiny random ViTs in the checkpoint layouts of timm, MAE, DINO
(HIPT) and DINOv2.

They stand in for the full-size checkpoints of the CITE encoder configs
where those cannot be downloaded: the same keys, wrappers and file types,
a 2-layer 32-d ViT with 8 px patches (DINOv2's trained for 48 px, so that
loading it at 32 px resizes its position embedding). The tiny configs in
configs/cite/tiny load them from the default output directory:
    python tools/misc/generate_tiny_vits.py
"""
import argparse
import os
import os.path as osp

from mmvlsm.testing import TINY_VIT_FILES, save_tiny_vit


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write tiny random ViTs in the timm, MAE, DINO and '
        'DINOv2 checkpoint layouts')
    parser.add_argument(
        '--out-dir', default='checkpoints/tiny_vits', help='output directory')
    parser.add_argument(
        '--families',
        nargs='+',
        choices=sorted(TINY_VIT_FILES),
        default=sorted(TINY_VIT_FILES),
        help='which layouts to write (default: all)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    for family in args.families:
        path = osp.join(args.out_dir, TINY_VIT_FILES[family])
        os.makedirs(osp.dirname(path), exist_ok=True)
        save_tiny_vit(path, family, seed=args.seed)
        print(f'Wrote a tiny {family} ViT to {path}')


if __name__ == '__main__':
    main()
