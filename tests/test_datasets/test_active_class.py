# Copyright (c) OpenMMLab. All rights reserved.
from collections import Counter

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmvlsm.datasets import MultiClassSliceDataset
from mmvlsm.datasets.transforms import BinarizeActiveClass, RandomActiveClass
from mmvlsm.evaluation import DiceIoUMetric
from mmvlsm.registry import TRANSFORMS
from .conftest import write_slices

META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
             'scale_factor', 'flip', 'flip_direction', 'img_name', 'mask_name',
             'dataset_name', 'subject', 'slice', 'active_class')
TRAIN_PIPELINE = [
    dict(type='LoadCheckedImageFromFile', color_type='grayscale'),
    dict(type='LoadAnnotations'),
    dict(type='RandomActiveClass'),
    dict(type='BinarizeActiveClass'),
    dict(type='PackVLSMInputs', meta_keys=META_KEYS),
]
TEST_PIPELINE = [
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='LoadAnnotations'),
    dict(type='BinarizeActiveClass'),
    dict(type='PackSegInputs', meta_keys=META_KEYS),
]


def test_random_active_class():
    draw = RandomActiveClass()
    np.random.seed(0)
    first = [
        draw(dict(candidate_classes=[2, 5, 7]))['active_class']
        for _ in range(300)
    ]
    counts = Counter(first)
    assert set(counts) == {2, 5, 7}
    assert min(counts.values()) > 70  # uniform: 100 each on average
    assert all(type(c) is int for c in first)
    # numpy's global state: the same seed, the same draws.
    np.random.seed(0)
    assert [
        draw(dict(candidate_classes=[2, 5, 7]))['active_class']
        for _ in range(300)
    ] == first
    # A fixed class (evaluation) is kept.
    assert draw(dict(candidate_classes=[2, 5],
                     active_class=7))['active_class'] == 7
    with pytest.raises(KeyError, match='needs candidate_classes'):
        draw(dict(img_path='a.png'))
    with pytest.raises(ValueError, match='candidate_classes of a.png'):
        draw(dict(img_path='a.png', candidate_classes=[]))


def test_binarize_active_class():
    labels = np.array([[0, 1, 2], [2, 3, 1]], np.uint8)
    results = BinarizeActiveClass()(
        dict(gt_seg_map=labels, active_class=2, seg_fields=['gt_seg_map']))
    assert results['gt_seg_map'].dtype == np.uint8
    assert results['gt_seg_map'].tolist() == [[0, 0, 1], [1, 0, 0]]
    assert results['active_class'] == 2
    with pytest.raises(KeyError, match='needs active_class'):
        BinarizeActiveClass()(dict(gt_seg_map=labels))
    with pytest.raises(KeyError, match="LoadAnnotations"):
        BinarizeActiveClass()(dict(active_class=1))


def test_training_pipeline_packs_a_binary_sample(tmp_path):
    root, _ = write_slices(tmp_path / 'organs', size=(8, 6))
    dataset = MultiClassSliceDataset(
        root, active_classes=[1, 2], pipeline=TRAIN_PIPELINE)
    np.random.seed(1)
    seen = set()
    for _ in range(12):
        packed = dataset[2]
        sample = packed['data_samples']
        active = sample.metainfo['active_class']
        seen.add(active)
        assert packed['inputs'].shape == (1, 6, 8)
        assert packed['inputs'].dtype == torch.uint8
        assert (packed['inputs'] == 80).all()
        mask = cv2.imread(sample.seg_map_path, cv2.IMREAD_UNCHANGED)
        gt = sample.gt_sem_seg.data
        assert gt.shape == (1, 6, 8)
        assert torch.equal(gt[0], torch.from_numpy(mask == active).long())
        assert (sample.subject, sample.slice) == ('s1', 2)
        assert sample.dataset_name == 'organs'
    assert seen == {1, 2}


def test_expanded_evaluation_reports_every_class(tmp_path):
    """DiceIoUMetric groups by dataset_name: one row per class."""
    root, _ = write_slices(tmp_path / 'organs')
    dataset = MultiClassSliceDataset(
        root,
        active_classes=[1, 2],
        expand_classes=True,
        test_mode=True,
        pipeline=TEST_PIPELINE)
    metric = DiceIoUMetric()
    for idx in range(len(dataset)):
        sample = dataset[idx]['data_samples']
        gt = sample.gt_sem_seg.data
        # A perfect liver and an empty spleen prediction.
        pred = gt if sample.active_class == 1 else torch.zeros_like(gt)
        sample.pred_sem_seg = PixelData(data=pred)
        metric.process({}, [sample.to_dict()])
    metrics = metric.compute_metrics(metric.results)
    assert metrics['organs-liver/mDice'] == 100
    assert metrics['organs-liver/gDice'] == 100
    # The spleen is on slices 1 and 2; slice 0 has none, and the empty
    # prediction scores 1 there.
    assert metrics['organs-spleen/gDice'] == 0
    assert metrics['organs-spleen/mDice'] == pytest.approx(100 / 3)
    assert {key.split('/')[0]
            for key in metrics
            if '/' in key} == {'organs-liver', 'organs-spleen'}


def test_registered():
    assert TRANSFORMS.get('RandomActiveClass') is RandomActiveClass
    assert TRANSFORMS.get('BinarizeActiveClass') is BinarizeActiveClass
