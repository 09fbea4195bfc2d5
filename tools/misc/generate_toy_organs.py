# Copyright (c) OpenMMLab. All rights reserved.
"""Write a synthetic multi-organ CT slice dataset for
:class:`mmvlsm.datasets.MultiClassSliceDataset`, or its volumes for
:class:`mmvlsm.datasets.MultiClassVolumeDataset` (``--volumes``).

Every subject is a short stack of axial slices: air around a body ellipse
of soft tissue, an unlabelled spine at the back, and four labelled organs
with their own intensity, texture, shape and place (image left = patient
right, top = anterior, as in radiology):

- liver: large, patient right and front, fine-grained, upper slices;
- spleen: small, patient left and back, brighter and mottled, upper slices;
- left and right kidney: beans beside the spine with a dark centre, the
  left one brighter, lower slices.

Organs grow and shrink across the stack and are jittered per slice (place,
size, angle), so slices miss the organs outside their range and, now and
then, one more. Intensities are drawn in Hounsfield units and windowed as
``tools/dataset_converters/ct_multiorgan.py`` windows real CT
(``IntensityWindow(level=0, width=2000)`` of
:mod:`mmvlsm.datasets.volumes`: [-1000, 1000] HU to [0, 255]), and the
layout and annotation format are the converter's::

    <out-dir>/images/<subject>_<slice:03d>.png   uint8 grey
    <out-dir>/masks/<subject>_<slice:03d>.png    uint8 class indices
    <out-dir>/anns/{train,val,test}.json         one split of subjects each

With ``--volumes`` a subject's slices are one volume instead, in the
layout of ``ct_multiorgan.py --format nifti`` (HU rounded to int16,
voxels of :data:`SPACING` mm, identity direction; 16 slices by
default)::

    <out-dir>/images/<subject>.nii.gz   int16 HU
    <out-dir>/masks/<subject>.nii.gz    uint8 class indices

Example:
    python tools/misc/generate_toy_organs.py --out-dir data/toy_organs
    python tools/misc/generate_toy_organs.py --volumes \\
        --out-dir data/toy_organs_3d
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Tuple

import cv2
import numpy as np
import SimpleITK as sitk
from scipy import ndimage

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmvlsm.datasets.volumes import (
    IntensityWindow,  # noqa: E402
    write_volume)

CLASSES = ('background', 'liver', 'spleen', 'left kidney', 'right kidney')
SPLITS = ('train', 'val', 'test')
# [-1000, 1000] HU -> 0..255, as ct_multiorgan.py windows real CT.
HU_WINDOW = IntensityWindow(level=0.0, width=2000.0)
AIR_HU, BODY_HU = -1000.0, -100.0
# Voxel size (x, y, z) in mm of the volumes, the converter's.
SPACING = (1.25, 1.25, 2.5)
# Per organ: class index, centre offset from the body centre and semi-axes
# (fractions of the image size), angle (degrees), the part of the stack it
# spans (0 = first slice, 1 = last), mean HU and texture:
# 'fine' = extra pixel noise, 'mottled' = smooth blobs, 'hilum' = dark
# centre.
ORGANS = (
    dict(
        label=1,
        offset=(-0.17, -0.05),
        axes=(0.17, 0.14),
        angle=20,
        span=(0.0, 0.7),
        hu=60,
        texture='fine'),
    dict(
        label=2,
        offset=(0.23, 0.03),
        axes=(0.08, 0.11),
        angle=-30,
        span=(0.0, 0.55),
        hu=200,
        texture='mottled'),
    dict(
        label=3,
        offset=(0.15, 0.14),
        axes=(0.065, 0.09),
        angle=-15,
        span=(0.35, 1.0),
        hu=560,
        texture='hilum'),
    dict(
        label=4,
        offset=(-0.15, 0.15),
        axes=(0.065, 0.09),
        angle=15,
        span=(0.45, 1.0),
        hu=380,
        texture='hilum'),
)
# Chance that an organ within its span is left out of a slice.
DROPOUT = 0.1


def _ellipse(shape: Tuple[int, int], center: Tuple[float, float],
             axes: Tuple[float, float], angle: float) -> np.ndarray:
    """Filled ellipse as a bool (H, W) mask; sizes in pixels."""
    mask = np.zeros(shape, np.uint8)
    cv2.ellipse(mask, (int(round(center[0])), int(round(center[1]))),
                (max(1, int(round(axes[0]))), max(1, int(round(axes[1])))),
                angle, 0, 360, 1, -1)
    return mask.astype(bool)


def make_subject(rng: np.random.Generator, num_slices: int,
                 size: int) -> List[Tuple[np.ndarray, np.ndarray]]:
    """The (HU, label map) pairs of one subject's slices.

    Returns:
        list[tuple[np.ndarray, np.ndarray]]: Per slice, float32 HU and
        uint8 class indices, both (H, W).
    """
    shape = (size, size)
    body_center = size / 2 + rng.uniform(-2, 2, 2) * size / 64
    body_axes = np.array([0.42, 0.31]) * size * rng.uniform(0.93, 1.05, 2)
    # Per subject: organ sizes and places vary a little.
    organ_scale = rng.uniform(0.9, 1.1, len(ORGANS))
    organ_shift = rng.uniform(-0.02, 0.02, (len(ORGANS), 2)) * size
    slices = []
    for k in range(num_slices):
        t = k / max(num_slices - 1, 1)
        hu = np.full(shape, AIR_HU, np.float32)
        body = _ellipse(shape, body_center, body_axes, rng.uniform(-3, 3))
        hu[body] = BODY_HU
        spine_center = body_center + (0, 0.2 * size)
        spine = _ellipse(shape, spine_center, (0.065 * size, 0.06 * size), 0)
        hu[spine] = 900
        hu[_ellipse(shape, spine_center, (0.03 * size, 0.03 * size), 0)] = 300
        labels = np.zeros(shape, np.uint8)
        for i, organ in enumerate(ORGANS):
            start, end = organ['span']
            if not start <= t <= end or rng.random() < DROPOUT:
                continue
            # Largest mid-span, 45 % of that at its ends.
            growth = 0.45 + 0.55 * np.sin(np.pi * (t - start) / (end - start))
            axes = (
                np.array(organ['axes']) * size * organ_scale[i] * growth *
                rng.uniform(0.9, 1.1, 2))
            center = (
                body_center + np.array(organ['offset']) * size +
                organ_shift[i] + rng.uniform(-1.5, 1.5, 2) * size / 64)
            angle = organ['angle'] + rng.uniform(-10, 10)
            mask = _ellipse(shape, center, axes, angle) & body & ~spine
            labels[mask] = organ['label']
            hu[mask] = organ['hu']
            if organ['texture'] == 'fine':
                hu[mask] += rng.normal(0, 15, int(mask.sum()))
            elif organ['texture'] == 'mottled':
                blobs = ndimage.gaussian_filter(
                    rng.normal(0, 1, shape), 1.5 * size / 64)
                hu[mask] += 40 * blobs[mask] / max(blobs.std(), 1e-6)
            else:  # a dark hilum inside the kidney, still kidney
                hilum = _ellipse(shape, center, axes * 0.45, angle) & mask
                hu[hilum] = 0
        # Partial volume blur and scanner noise.
        hu = ndimage.gaussian_filter(hu, 0.6) + rng.normal(0, 25, shape)
        slices.append((hu, labels))
    return slices


def write_slices(out_dir: str, subject: str,
                 slices: List[Tuple[np.ndarray, np.ndarray]]) -> List[dict]:
    """One windowed image PNG and one mask PNG per slice; their records."""
    records = []
    for k, (hu, labels) in enumerate(slices):
        name = f'{subject}_{k:03d}.png'
        cv2.imwrite(
            osp.join(out_dir, 'images', name),
            HU_WINDOW.resolve(hu).to_uint8(hu))
        cv2.imwrite(osp.join(out_dir, 'masks', name), labels)
        records.append(
            dict(
                img_name=name,
                mask_name=name,
                subject=subject,
                slice=k,
                labels=[int(v) for v in np.unique(labels) if v]))
    return records


def write_volumes(out_dir: str, subject: str,
                  slices: List[Tuple[np.ndarray, np.ndarray]]) -> List[dict]:
    """The slices as an int16 HU volume and a uint8 label volume; their
    record."""
    hu = np.stack([s[0] for s in slices])
    labels = np.stack([s[1] for s in slices])
    name = f'{subject}.nii.gz'
    # (slices, rows, cols) is SimpleITK's (z, y, x): with the identity
    # direction the axial slices are the PNGs.
    for folder, data in (('images', np.rint(hu).astype(np.int16)), ('masks',
                                                                    labels)):
        volume = sitk.GetImageFromArray(data)
        volume.SetSpacing(SPACING)
        write_volume(volume, osp.join(out_dir, folder, name))
    return [
        dict(
            img_name=name,
            mask_name=name,
            subject=subject,
            labels=[int(v) for v in np.unique(labels) if v])
    ]


def generate_toy_organs(out_dir: str,
                        num_subjects: Dict[str, int],
                        num_slices: int = 8,
                        size: int = 64,
                        seed: int = 0,
                        volumes: bool = False) -> Dict[str, int]:
    """Write images, masks and annotation files under ``out_dir``.

    Subject ``i`` of a split depends only on ``seed``, the split and ``i``,
    so changing one split's size leaves the others unchanged.

    Args:
        out_dir (str): Dataset root; ``images/``, ``masks/`` and ``anns/``
            are created in it.
        num_subjects (dict[str, int]): Subjects per split (train, val,
            test), named ``<split>_<i:02d>``.
        num_slices (int): Slices per subject. Defaults to 8.
        size (int): Image side in pixels. Defaults to 64.
        seed (int): Random seed. Defaults to 0.
        volumes (bool): Write a volume per subject instead of PNG slices.
            Defaults to False.

    Returns:
        dict[str, int]: Slices (volumes with ``volumes``) written per
        split.
    """
    if size < 32:
        raise ValueError(f'size {size} is too small; use at least 32')
    for sub in ('images', 'masks', 'anns'):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    counts = {}
    for split_id, split in enumerate(SPLITS):
        records = []
        for i in range(num_subjects[split]):
            subject = f'{split}_{i:02d}'
            rng = np.random.default_rng([seed, split_id, i])
            write = write_volumes if volumes else write_slices
            records += write(out_dir, subject,
                             make_subject(rng, num_slices, size))
        with open(osp.join(out_dir, 'anns', f'{split}.json'), 'w') as f:
            json.dump(
                dict(metainfo=dict(classes=list(CLASSES)), data_list=records),
                f)
        counts[split] = len(records)
    return counts


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the toy multi-organ CT slice dataset')
    parser.add_argument(
        '--out-dir', default='data/toy_organs', help='dataset root')
    parser.add_argument('--num-train', type=int, default=6, help='subjects')
    parser.add_argument('--num-val', type=int, default=2, help='subjects')
    parser.add_argument('--num-test', type=int, default=2, help='subjects')
    parser.add_argument(
        '--num-slices',
        type=int,
        help='slices per subject (default: 8, 16 with --volumes)')
    parser.add_argument('--size', type=int, default=64, help='image side')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--volumes',
        action='store_true',
        help='one NIfTI volume per subject instead of PNG slices')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    counts = generate_toy_organs(
        args.out_dir,
        dict(train=args.num_train, val=args.num_val, test=args.num_test),
        num_slices=args.num_slices or (16 if args.volumes else 8),
        size=args.size,
        seed=args.seed,
        volumes=args.volumes)
    summary = ', '.join(f'{split}: {n}' for split, n in counts.items())
    unit = 'volumes' if args.volumes else 'slices'
    print(f'Wrote the toy organs dataset to {osp.abspath(args.out_dir)} '
          f'({summary} {unit})')


if __name__ == '__main__':
    main()
