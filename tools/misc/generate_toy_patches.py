# Copyright (c) OpenMMLab. All rights reserved.
"""Write a synthetic patch classification dataset with slides.

Three classes of stained-tissue-like patches: pink background with round
dark "nuclei" whose density, size and colour grow with the class (0:
sparse, small and pale; 1: medium; 2: dense, large and dark). Every slide
has one class; each of its patches is drawn with the slide's parameters
jittered, and about one patch in five looks like a neighbouring class, so
patch accuracy stays below slide accuracy (soft voting over a slide's
patches repairs single mistakes).

The annotation files have CITE's format, one ``<filename> <label>`` line per
patch, the slide id before the first ``_`` of the file name:

    <out-dir>/patches/<slide>_<k>.png
    <out-dir>/anns/train.txt, <out-dir>/anns/val.txt

Example:
    python tools/misc/generate_toy_patches.py --out-dir data/toy_patches
"""
import argparse
import os
import os.path as osp
from typing import List

import cv2
import numpy as np

# Per class: nuclei per patch, radius (px at 32 px), nucleus and background
# colour (BGR, as written by cv2).
CLASS_STYLES = (
    dict(
        count=3,
        radius=2.0,
        nucleus=(170, 110, 150),
        background=(215, 190, 240)),
    dict(
        count=7,
        radius=3.0,
        nucleus=(150, 60, 110),
        background=(200, 160, 225)),
    dict(
        count=12,
        radius=4.0,
        nucleus=(120, 20, 60),
        background=(180, 120, 200)),
)
SPLITS = dict(train='T', val='V')


def draw_patch(rng: np.random.Generator, style: dict, size: int) -> np.ndarray:
    """One patch (size, size, 3) uint8 BGR in ``style``, jittered."""
    scale = size / 32
    background = np.array(style['background'], np.float32)
    image = np.empty((size, size, 3), np.float32)
    image[:] = background + rng.normal(0, 6, 3)
    count = max(1, int(round(style['count'] * rng.uniform(0.7, 1.3))))
    for _ in range(count):
        center = tuple(int(c) for c in rng.integers(0, size, 2))
        radius = max(
            1, int(round(style['radius'] * scale * rng.uniform(0.8, 1.2))))
        color = tuple(
            float(c)
            for c in np.array(style['nucleus']) + rng.normal(0, 10, 3))
        cv2.circle(image, center, radius, color, -1, cv2.LINE_AA)
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_split(out_dir: str, split: str, slides_per_class: int,
                patches_per_slide: int, size: int,
                rng: np.random.Generator) -> List[str]:
    """Draw the slides of ``split``; return its annotation lines."""
    lines = []
    num_classes = len(CLASS_STYLES)
    for index in range(slides_per_class * num_classes):
        label = index % num_classes
        slide = f'{SPLITS[split]}{index:03d}'
        for k in range(patches_per_slide):
            shown = label
            if rng.random() < 0.2:  # looks like a neighbouring class
                shown = int(
                    np.clip(label + rng.choice([-1, 1]), 0, num_classes - 1))
            name = f'{slide}_{k}.png'
            cv2.imwrite(
                osp.join(out_dir, 'patches', name),
                draw_patch(rng, CLASS_STYLES[shown], size))
            lines.append(f'{name} {label}')
    return lines


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a synthetic patch classification dataset')
    parser.add_argument(
        '--out-dir', default='data/toy_patches', help='output directory')
    parser.add_argument(
        '--size', type=int, default=32, help='patch side in pixels')
    parser.add_argument(
        '--train-slides',
        type=int,
        default=4,
        help='training slides per class')
    parser.add_argument(
        '--val-slides',
        type=int,
        default=4,
        help='validation slides per '
        'class')
    parser.add_argument(
        '--patches-per-slide', type=int, default=8, help='patches per slide')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    os.makedirs(osp.join(args.out_dir, 'patches'), exist_ok=True)
    os.makedirs(osp.join(args.out_dir, 'anns'), exist_ok=True)
    for split, slides in (('train', args.train_slides), ('val',
                                                         args.val_slides)):
        lines = write_split(args.out_dir, split, slides,
                            args.patches_per_slide, args.size, rng)
        with open(osp.join(args.out_dir, 'anns', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        print(f'{split}: {len(lines)} patches of {slides * 3} slides')


if __name__ == '__main__':
    main()
