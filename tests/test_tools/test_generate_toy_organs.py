# Copyright (c) OpenMMLab. All rights reserved.
import filecmp
import importlib.util
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from mmvlsm.datasets import MultiClassSliceDataset
from .conftest import REPO, run_tool

SCRIPT = osp.join(REPO, 'tools', 'misc', 'generate_toy_organs.py')
spec = importlib.util.spec_from_file_location('generate_toy_organs', SCRIPT)
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

SUBJECTS = dict(train=6, val=2, test=2)


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy') / 'toy_organs'
    assert gen.generate_toy_organs(str(root), SUBJECTS) == dict(
        train=48, val=16, test=16)
    return root


def load_split(root, split):
    content = json.loads((root / 'anns' / f'{split}.json').read_text())
    images, masks = [], []
    for record in content['data_list']:
        images.append(
            cv2.imread(
                str(root / 'images' / record['img_name']),
                cv2.IMREAD_UNCHANGED))
        masks.append(
            cv2.imread(
                str(root / 'masks' / record['mask_name']),
                cv2.IMREAD_UNCHANGED))
    return content, np.stack(images), np.stack(masks)


def test_layout_and_labels(toy_root):
    subjects = {}
    for split, count in SUBJECTS.items():
        content, images, masks = load_split(toy_root, split)
        assert content['metainfo']['classes'] == [
            'background', 'liver', 'spleen', 'left kidney', 'right kidney'
        ]
        records = content['data_list']
        assert images.shape == masks.shape == (count * 8, 64, 64)
        assert images.dtype == masks.dtype == np.uint8
        assert set(np.unique(masks).tolist()) <= set(range(5))
        for record, mask in zip(records, masks):
            assert record['img_name'] == record['mask_name'] == (
                f"{record['subject']}_{record['slice']:03d}.png")
            assert record['labels'] == [
                v for v in np.unique(mask).tolist() if v
            ]
        subjects[split] = {r['subject'] for r in records}
        assert len(subjects[split]) == count
        assert all(
            sorted(r['slice'] for r in records
                   if r['subject'] == s) == list(range(8))
            for s in subjects[split])
    assert not (subjects['train'] & subjects['val']
                or subjects['train'] & subjects['test']
                or subjects['val'] & subjects['test'])
    dataset = MultiClassSliceDataset(
        str(toy_root), ann_file='anns/val.json', expand_classes=True)
    assert len(dataset) == 16 * 4
    assert dataset.get_data_info(3)['dataset_name'] == (
        'toy_organs-right kidney')


def test_organs_are_learnable(toy_root):
    content, images, masks = load_split(toy_root, 'train')
    records = content['data_list']
    slices = np.array([r['slice'] for r in records])
    means = {}
    for cls in range(1, 5):
        present = np.array([cls in r['labels'] for r in records])
        # Every organ shows up, and some slices lack it.
        assert 0 < present.sum() < len(records)
        means[cls] = images[masks == cls].mean()
        assert means[cls] > images[masks == 0].mean()
    # Distinct intensities (noise is about 3 grey levels).
    values = sorted(means.values())
    assert min(np.diff(values)) > 8
    # Liver and spleen higher in the stack than the kidneys.
    first = {
        cls: slices[[cls in r['labels'] for r in records]].mean()
        for cls in range(1, 5)
    }
    assert max(first[1], first[2]) < min(first[3], first[4])
    # Image left is the patient's right: right organs left of left ones.
    cols = {cls: np.nonzero(masks == cls)[2].mean() for cls in range(1, 5)}
    assert cols[1] < 32 < cols[2] and cols[4] < 32 < cols[3]


def test_deterministic(toy_root, tmp_path):
    again = tmp_path / 'again'
    gen.generate_toy_organs(str(again), SUBJECTS)
    for sub in ('anns', 'images', 'masks'):
        names = sorted(p.name for p in (toy_root / sub).iterdir())
        assert names == sorted(p.name for p in (again / sub).iterdir())
        _, mismatch, errors = filecmp.cmpfiles(
            toy_root / sub, again / sub, names, shallow=False)
        assert not mismatch and not errors, sub
    other = tmp_path / 'other'
    gen.generate_toy_organs(str(other), SUBJECTS, seed=1)
    assert (other / 'anns' /
            'train.json').read_text() != (toy_root / 'anns' /
                                          'train.json').read_text()


def test_cli(tmp_path):
    out = tmp_path / 'cli'
    log = run_tool([
        sys.executable, SCRIPT, '--out-dir',
        str(out), '--num-train', '1', '--num-val', '1', '--num-test', '1',
        '--num-slices', '3', '--size', '48'
    ])
    assert 'train: 3, val: 3, test: 3 slices' in log
    assert cv2.imread(
        str(out / 'images' / 'test_00_002.png'),
        cv2.IMREAD_UNCHANGED).shape == (48, 48)


def test_volumes(tmp_path):
    from mmvlsm.datasets import MultiClassVolumeDataset
    from mmvlsm.datasets.volumes import read_volume
    root = tmp_path / 'toy_organs_3d'
    log = run_tool([
        sys.executable, SCRIPT, '--out-dir',
        str(root), '--num-train', '2', '--num-val', '1', '--num-test', '1',
        '--size', '32', '--volumes'
    ])
    assert 'train: 2, val: 1, test: 1 volumes' in log
    content = json.loads((root / 'anns' / 'train.json').read_text())
    assert content['metainfo']['classes'] == list(gen.CLASSES)
    assert [r['subject']
            for r in content['data_list']] == ['train_00', 'train_01']
    # The generator's subject, as HU, 16 slices by default.
    slices = gen.make_subject(
        np.random.default_rng([0, 0, 1]), num_slices=16, size=32)
    image = read_volume(root / 'images' / 'train_01.nii.gz')
    mask = read_volume(root / 'masks' / 'train_01.nii.gz')
    assert image.array.shape == mask.array.shape == (16, 32, 32)
    assert image.array.dtype == np.int16 and mask.array.dtype == np.uint8
    assert image.spacing == mask.spacing == (2.5, 1.25, 1.25)
    assert np.array_equal(image.array,
                          np.rint([hu for hu, _ in slices]).astype(np.int16))
    assert np.array_equal(mask.array, [labels for _, labels in slices])
    assert content['data_list'][1]['labels'] == [
        v for v in np.unique(mask.array).tolist() if v
    ]
    dataset = MultiClassVolumeDataset(
        str(root), ann_file='anns/val.json', expand_classes=True)
    assert len(dataset) == 4
