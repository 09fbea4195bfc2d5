# Copyright (c) OpenMMLab. All rights reserved.
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def make_record(idx: int, **prompts) -> dict:
    """A medvlsm record for image/mask ``img_<idx>.png``."""
    prompts = prompts or dict(
        p0='',
        p1='polyp',
        p2='round polyp',
        p3=['polyp on the left', 'a polyp on the left side'])
    return dict(
        img_name=f'img_{idx}.png', mask_name=f'img_{idx}.png', prompts=prompts)


def write_dataset(root, records, split='train', size=(8, 6)) -> str:
    """Write ``records`` and a tiny image and mask for each under ``root``.

    Args:
        root (Path): Dataset root.
        records (list[dict]): medvlsm records.
        split (str): Name of the annotation file.
        size (tuple[int, int]): Image (width, height).

    Returns:
        str: The dataset root.
    """
    w, h = size
    for sub in ('images', 'masks', 'anns'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, record in enumerate(records):
        img = np.full((h, w, 3), 10 * i % 256, np.uint8)
        mask = np.zeros((h, w), np.uint8)
        mask[:, :w // 2] = 255
        cv2.imwrite(str(root / 'images' / record['img_name']), img)
        mask_path = root / 'masks' / record['mask_name']
        mask_path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(mask_path), mask)
    (root / 'anns' / f'{split}.json').write_text(json.dumps(records))
    return str(root)


# Classes of the datasets written by `write_slices`.
SLICE_CLASSES = ['background', 'liver', 'spleen', 'kidney']


def write_slices(root,
                 num_slices=3,
                 classes=SLICE_CLASSES,
                 split='train',
                 size=(8, 6)):
    """A dataset of ``num_slices`` slices of subject ``s1``.

    Slice k holds class 1 in its left half and, from slice 1 on, class 2 in
    the bottom-right corner; class 3 never appears.

    Returns:
        tuple: The dataset root (str) and the annotation content (dict).
    """
    w, h = size
    for sub in ('images', 'masks', 'anns'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    records = []
    for k in range(num_slices):
        mask = np.zeros((h, w), np.uint8)
        mask[:, :w // 2] = 1
        if k > 0:
            mask[-2:, -2:] = 2
        name = f's1_{k:03d}.png'
        cv2.imwrite(
            str(root / 'images' / name), np.full((h, w), 40 * k, np.uint8))
        cv2.imwrite(str(root / 'masks' / name), mask)
        records.append(
            dict(
                img_name=name,
                mask_name=name,
                subject='s1',
                slice=k,
                labels=[int(v) for v in np.unique(mask) if v]))
    content = dict(metainfo=dict(classes=list(classes)), data_list=records)
    (root / 'anns' / f'{split}.json').write_text(json.dumps(content))
    return str(root), content


@pytest.fixture(autouse=True)
def mmvlsm_scope():
    """Build configs in mmvlsm's scope, as the runner does."""
    with DefaultScope.overwrite_default_scope('mmvlsm'):
        yield


@pytest.fixture
def tiny_root(tmp_path):
    """A dataset ``tiny`` of three records with the default prompts."""
    return write_dataset(tmp_path / 'tiny', [make_record(i) for i in range(3)])


def save_volume(path,
                array,
                spacing=(0.8, 0.9, 2.5),
                direction=None,
                origin=(0.0, 0.0, 0.0)):
    """Write a (z, y, x) array as a volume of ITK ``spacing`` (x, y, z)."""
    import SimpleITK as sitk
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    sitk.WriteImage(image, str(path))
    return str(path)


def volume_arrays(shape=(3, 6, 5)):
    """A (z, y, x) HU volume and its labels, distinct at every voxel: the
    HU rise along every axis; class 1 fills the left half of x, class 2
    the last slice's top-left corner."""
    z, y, x = np.indices(shape)
    hu = (100 * z + 10 * y + x - 500).astype(np.int16)
    labels = np.zeros(shape, np.uint8)
    labels[:, :, :shape[2] // 2] = 1
    labels[-1, :2, :2] = 2
    return hu, labels


def write_volumes(root,
                  subjects=('s1', 's2'),
                  classes=SLICE_CLASSES,
                  split='train',
                  shape=(3, 6, 5)):
    """A volume dataset: one image and label volume per subject.

    Returns:
        tuple: The dataset root (str) and the annotation content (dict).
    """
    for sub in ('images', 'masks', 'anns'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    hu, labels = volume_arrays(shape)
    records = []
    for subject in subjects:
        name = f'{subject}.nii.gz'
        save_volume(root / 'images' / name, hu)
        save_volume(root / 'masks' / name, labels)
        records.append(
            dict(
                img_name=name, mask_name=name, subject=subject, labels=[1, 2]))
    content = dict(metainfo=dict(classes=list(classes)), data_list=records)
    (root / 'anns' / f'{split}.json').write_text(json.dumps(content))
    return str(root), content
