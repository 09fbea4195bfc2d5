# Copyright (c) OpenMMLab. All rights reserved.
import filecmp
import importlib.util
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmvlsm.datasets import MedVLSMDataset, load_medvlsm_annotations
from .conftest import REPO

SCRIPT = osp.join(REPO, 'tools', 'misc', 'generate_toy_dataset.py')
COUNTS = dict(train=6, val=2, test=8)


def _load_generator():
    spec = importlib.util.spec_from_file_location('generate_toy_dataset',
                                                  SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy') / 'toy_shapes')
    assert gen.generate_toy_dataset(root, COUNTS) == dict(
        COUNTS, test_wrong_prompt=COUNTS['test'])
    return root


def _anns(root, name):
    return load_medvlsm_annotations(osp.join(root, 'anns', f'{name}.json'))


def test_generator_is_deterministic(toy_root, tmp_path):
    again = str(tmp_path / 'again')
    gen.generate_toy_dataset(again, COUNTS)
    for sub in ('anns', 'images', 'masks'):
        cmp = filecmp.dircmp(osp.join(toy_root, sub), osp.join(again, sub))
        assert cmp.left_list == cmp.right_list
        _, mismatch, errors = filecmp.cmpfiles(
            osp.join(toy_root, sub),
            osp.join(again, sub),
            cmp.common_files,
            shallow=False)
        assert not mismatch and not errors, sub
    other = str(tmp_path / 'other_seed')
    gen.generate_toy_dataset(other, COUNTS, seed=1)
    assert _anns(other, 'train') != _anns(toy_root, 'train')


def test_records_images_and_masks(toy_root):
    for split, count in COUNTS.items():
        records = _anns(toy_root, split)
        assert len(records) == count
        for record in records:
            img = cv2.imread(osp.join(toy_root, 'images', record['img_name']))
            mask = cv2.imread(
                osp.join(toy_root, 'masks', record['mask_name']),
                cv2.IMREAD_UNCHANGED)
            assert img.shape == (128, 160, 3)
            assert mask.shape == (128, 160) and mask.dtype == np.uint8
            assert set(np.unique(mask).tolist()) == {0, 255}
            ys, xs = np.nonzero(mask)
            assert record['bbox'] == [xs.min(), ys.min(), xs.max(), ys.max()]
            prompts = record['prompts']
            assert list(prompts) == ['p0', 'p1', 'p2', 'p3', 'p4']
            shape = prompts['p1']
            assert prompts['p0'] == '' and shape in gen.SHAPES
            assert prompts['p2'].endswith(f' {shape}')
            assert prompts['p3'].startswith(prompts['p2'] + ' on the ')
            assert 2 <= len(prompts['p4']) <= 3
            assert all(shape in text for text in prompts['p4'])
            # The target's colour is what the image shows under the mask.
            rgb = np.array(gen.COLORS[prompts['p2'].split()[0]])
            mean_rgb = img[mask > 0][:, ::-1].mean(0)
            assert np.abs(mean_rgb - rgb).max() < 20


def test_shapes_in_an_image_are_distinct():
    for i in range(20):
        _, _, objects = gen.make_sample(np.random.default_rng(i), 160, 128)
        assert len(objects) == 3
        for field in ('shape', 'color', 'location'):
            assert len({obj[field] for obj in objects}) == 3


def test_wrong_prompts_name_another_shape_in_the_image(toy_root):
    right, wrong = _anns(toy_root, 'test'), _anns(toy_root,
                                                  'test_wrong_prompt')
    assert len(wrong) == len(right)
    for good, bad in zip(right, wrong):
        assert (bad['img_name'], bad['mask_name'], bad['bbox']) == \
            (good['img_name'], good['mask_name'], good['bbox'])
        assert bad['prompts']['p1'] != good['prompts']['p1']
        assert bad['prompts']['p2'].split()[0] != \
            good['prompts']['p2'].split()[0]
        # The described shape is in the image, outside the target mask.
        img = cv2.imread(osp.join(toy_root, 'images', bad['img_name']))
        mask = cv2.imread(
            osp.join(toy_root, 'masks', bad['mask_name']),
            cv2.IMREAD_GRAYSCALE)
        rgb = np.array(gen.COLORS[bad['prompts']['p2'].split()[0]])
        close = np.abs(img[..., ::-1].astype(int) - rgb).max(-1) < 40
        assert close.sum() > 30 and not (close & (mask > 0)).any()


def test_toy_dataset_loads(toy_root):
    ds = MedVLSMDataset(
        toy_root,
        ann_file='anns/test_wrong_prompt.json',
        prompt_type='random',
        test_mode=True,
        pipeline=[
            dict(type='LoadCheckedImageFromFile'),
            dict(type='LoadBinaryMask')
        ])
    assert ds.metainfo['dataset_name'] == 'toy_shapes'
    out = ds[0]
    assert out['gt_seg_map'].shape == out['img'].shape[:2] == (128, 160)
    assert out['prompt_key'] in ('p1', 'p2', 'p3', 'p4')


def test_command_line(tmp_path):
    args = [
        sys.executable, SCRIPT, '--out-dir',
        str(tmp_path / 'cli'), '--num-train', '2', '--num-val', '1',
        '--num-test', '1', '--size', '96', '64', '--seed', '3'
    ]
    out = subprocess.run(
        args, check=True, capture_output=True, text=True).stdout
    assert str(tmp_path / 'cli') in out
    assert 'train: 2, val: 1, test: 1, test_wrong_prompt: 1' in out
    img = cv2.imread(str(tmp_path / 'cli' / 'images' / 'train_0001.png'))
    assert img.shape == (64, 96, 3)
