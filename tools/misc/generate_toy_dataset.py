# Copyright (c) OpenMMLab. All rights reserved.
"""Write a synthetic text-prompted segmentation dataset in medvlsm format.

Every image shows three shapes of different kinds and colours in different
cells of a 2 x 3 grid on a dark, noisy background. One of them is the
target; its mask (PNG, 0/255) covers it alone. Because kind and colour are
unique within an image, prompts p1..p4 identify the target, so a model has
to read the text to segment it. ``anns/test_wrong_prompt.json`` repeats the
test records with prompts that describe another shape of the image while
the masks stay those of the target.

Example:
    python tools/misc/generate_toy_dataset.py --out-dir data/toy_shapes
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

SHAPES = ('circle', 'square', 'triangle', 'diamond', 'star')
# RGB, distinct in hue so the colour words are unambiguous.
COLORS = dict(
    red=(220, 40, 40),
    green=(40, 200, 60),
    blue=(50, 90, 235),
    yellow=(235, 220, 40),
    purple=(170, 60, 210))
ROWS = ('top', 'bottom')
COLUMNS = ('left', 'center', 'right')
SPLITS = ('train', 'val', 'test')
SHAPES_PER_IMAGE = 3


def shape_polygon(shape: str, cx: int, cy: int, r: int) -> np.ndarray:
    """Vertices of ``shape`` centred at (cx, cy) with half-extent ``r``.

    Returns:
        np.ndarray: int32 of shape (N, 2), (x, y) vertices.
    """
    if shape == 'square':
        s = round(r * 0.85)
        pts = [(-s, -s), (s, -s), (s, s), (-s, s)]
    elif shape == 'triangle':
        pts = [(0, -r), (r, 0.8 * r), (-r, 0.8 * r)]
    elif shape == 'diamond':
        pts = [(0, -r), (0.7 * r, 0), (0, r), (-0.7 * r, 0)]
    elif shape == 'star':
        angles = -np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r, 0.45 * r)
        pts = list(zip(radii * np.cos(angles), radii * np.sin(angles)))
    else:
        raise ValueError(f'no polygon for {shape!r}')
    return np.round(np.array(pts) + (cx, cy)).astype(np.int32)


def draw_shape(canvas: np.ndarray, shape: str, center: Tuple[int, int], r: int,
               color: Tuple[int, ...]) -> None:
    """Fill ``shape`` into ``canvas`` in place (no anti-aliasing, so the
    image and the mask cover exactly the same pixels)."""
    if shape == 'circle':
        cv2.circle(canvas, center, r, color, thickness=-1)
    else:
        cv2.fillPoly(canvas, [shape_polygon(shape, *center, r)], color)


def make_prompts(shape: str, color: str, location: str) -> Dict:
    """medvlsm-style prompts p0..p4 for one shape."""
    return dict(
        p0='',
        p1=shape,
        p2=f'{color} {shape}',
        p3=f'{color} {shape} on the {location} of the image',
        p4=[
            f'the {color} {shape}', f'a {color} {shape} in the {location}',
            f'{shape} filled with {color}'
        ])


def make_sample(rng: np.random.Generator, width: int,
                height: int) -> Tuple[np.ndarray, np.ndarray, List[Dict]]:
    """Draw one image, the mask of its target and all its shapes.

    Returns:
        tuple: The BGR image (uint8, (H, W, 3)), the target mask (uint8,
        (H, W), 0/255) and one dict per shape (``shape``, ``color``,
        ``location``), the target first.
    """
    cell_w, cell_h = width // len(COLUMNS), height // len(ROWS)
    r_max = min(cell_w, cell_h) // 2 - 3
    kinds = rng.choice(len(SHAPES), SHAPES_PER_IMAGE, replace=False)
    colors = rng.choice(len(COLORS), SHAPES_PER_IMAGE, replace=False)
    cells = rng.choice(
        len(ROWS) * len(COLUMNS), SHAPES_PER_IMAGE, replace=False)

    img = np.full((height, width, 3), rng.integers(8, 40), np.float32)
    mask = np.zeros((height, width), np.uint8)
    objects = []
    # The first shape drawn is the target; positions are random anyway.
    for i, (kind, color, cell) in enumerate(zip(kinds, colors, cells)):
        row, col = divmod(int(cell), len(COLUMNS))
        r = int(rng.integers(max(4, r_max * 11 // 20), r_max + 1))
        x0, y0 = col * cell_w, row * cell_h
        center = (int(rng.integers(x0 + r + 1, x0 + cell_w - r - 1)),
                  int(rng.integers(y0 + r + 1, y0 + cell_h - r - 1)))
        shape, color_name = SHAPES[kind], list(COLORS)[color]
        rgb = COLORS[color_name]
        draw_shape(img, shape, center, r, rgb[::-1])
        if i == 0:
            draw_shape(mask, shape, center, r, 255)
        objects.append(
            dict(
                shape=shape,
                color=color_name,
                location=f'{ROWS[row]} {COLUMNS[col]}'))
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), mask, objects


def make_record(stem: str, idx: int, mask: np.ndarray, obj: Dict) -> Dict:
    """A medvlsm annotation record whose prompts describe ``obj``."""
    ys, xs = np.nonzero(mask)
    bbox = [xs.min(), ys.min(), xs.max(), ys.max()]
    return dict(
        bbox=[int(v) for v in bbox],
        cat=0,
        segment_id=stem,
        img_name=f'{stem}.png',
        mask_name=f'{stem}.png',
        sentences=[dict(idx=0, sent_id=idx, sent='')],
        sentences_num=1,
        prompts=make_prompts(obj['shape'], obj['color'], obj['location']))


def generate_toy_dataset(out_dir: str,
                         num_samples: Dict[str, int],
                         seed: int = 0,
                         size: Tuple[int, int] = (160, 128)) -> Dict:
    """Write images, masks and annotation files under ``out_dir``.

    Sample ``i`` of a split only depends on ``seed``, the split and ``i``,
    so changing one split's size leaves the others unchanged.

    Args:
        out_dir (str): Dataset root; ``images/``, ``masks/`` and ``anns/``
            are created in it.
        num_samples (dict[str, int]): Records per split (train, val, test).
        seed (int): Random seed. Defaults to 0.
        size (tuple[int, int]): Image (width, height). Defaults to
            (160, 128).

    Returns:
        dict[str, int]: Records written per annotation file (without the
        ``.json`` suffix), including ``test_wrong_prompt``.
    """
    width, height = size
    if min(width // len(COLUMNS), height // len(ROWS)) < 16:
        raise ValueError(f'size {size} is too small; use at least 48 x 32')
    for sub in ('images', 'masks', 'anns'):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    anns = {}
    for split_id, split in enumerate(SPLITS):
        records, wrong = [], []
        for i in range(num_samples[split]):
            rng = np.random.default_rng([seed, split_id, i])
            img, mask, objects = make_sample(rng, width, height)
            stem = f'{split}_{i:04d}'
            cv2.imwrite(osp.join(out_dir, 'images', f'{stem}.png'), img)
            cv2.imwrite(osp.join(out_dir, 'masks', f'{stem}.png'), mask)
            records.append(make_record(stem, i, mask, objects[0]))
            if split == 'test':
                distractor = objects[1 + int(rng.integers(len(objects) - 1))]
                wrong.append(make_record(stem, i, mask, distractor))
        anns[split] = records
        if split == 'test':
            anns['test_wrong_prompt'] = wrong
    for name, records in anns.items():
        with open(osp.join(out_dir, 'anns', f'{name}.json'), 'w') as f:
            json.dump(records, f)
    return {name: len(records) for name, records in anns.items()}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the toy text-prompted shapes dataset')
    parser.add_argument(
        '--out-dir', default='data/toy_shapes', help='dataset root')
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--num-test', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--size',
        type=int,
        nargs=2,
        default=(160, 128),
        metavar=('W', 'H'),
        help='image width and height')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    counts = generate_toy_dataset(
        args.out_dir,
        dict(train=args.num_train, val=args.num_val, test=args.num_test),
        seed=args.seed,
        size=tuple(args.size))
    summary = ', '.join(f'{name}: {n}' for name, n in counts.items())
    print(f'Wrote the toy shapes dataset to {osp.abspath(args.out_dir)} '
          f'({summary} records)')


if __name__ == '__main__':
    main()
