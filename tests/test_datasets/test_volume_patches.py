# Copyright (c) OpenMMLab. All rights reserved.
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmvlsm.datasets import MultiClassVolumeDataset, load_volume_annotations
from mmvlsm.registry import DATASETS
from mmvlsm.structures import VolumeData
from .conftest import REPO, SLICE_CLASSES, write_volumes


@pytest.fixture
def volumes_root(tmp_path):
    return write_volumes(tmp_path / 'organs')[0]


def test_training_infos(volumes_root):
    dataset = MultiClassVolumeDataset(volumes_root, active_classes=[2, 1])
    assert len(dataset) == 2
    info = dataset.get_data_info(1)
    assert info['img_path'].endswith('organs/images/s2.nii.gz')
    assert info['seg_map_path'].endswith('organs/masks/s2.nii.gz')
    assert (info['subject'], info['labels']) == ('s2', [1, 2])
    assert info['candidate_classes'] == [2, 1] and 'active_class' not in info
    assert info['num_classes'] == len(SLICE_CLASSES)
    assert info['dataset_name'] == 'organs' and 'slice' not in info
    assert dataset.metainfo['classes'] == tuple(SLICE_CLASSES)


def test_evaluation_expands_per_class(volumes_root):
    dataset = DATASETS.build(
        dict(
            type='MultiClassVolumeDataset',
            data_root=volumes_root,
            active_classes=[1, 3],
            expand_classes=True,
            lazy_init=True))
    assert not dataset._fully_initialized
    assert len(dataset) == 4
    infos = [dataset.get_data_info(i) for i in range(4)]
    assert [(i['subject'], i['active_class'], i['dataset_name'])
            for i in infos] == [('s1', 1, 'organs-liver'),
                                ('s1', 3, 'organs-kidney'),
                                ('s2', 1, 'organs-liver'),
                                ('s2', 3, 'organs-kidney')]
    assert all(i['candidate_classes'] == [i['active_class']] for i in infos)


def test_annotation_errors(tmp_path):
    root, content = write_volumes(tmp_path / 'bad')
    ann = osp.join(root, 'anns', 'train.json')
    assert load_volume_annotations(ann) == content
    del content['data_list'][1]['subject']
    with open(ann, 'w') as f:
        json.dump(content, f)
    with pytest.raises(
            ValueError, match=r'Record 1 of .*train.json lacks '
            r"\['subject'\]"):
        MultiClassVolumeDataset(root)
    content['data_list'][1].update(subject='s2', labels=[9])
    with open(ann, 'w') as f:
        json.dump(content, f)
    with pytest.raises(ValueError, match='Record 1 of .*labels must be'):
        MultiClassVolumeDataset(root)
    content['data_list'][1].update(labels=[1], img_name='none.nii.gz')
    with open(ann, 'w') as f:
        json.dump(content, f)
    with pytest.raises(
            FileNotFoundError, match='Image of record 1 of .*'
            'none.nii.gz'):
        MultiClassVolumeDataset(root)


def test_samples_through_the_3d_config(volumes_root):
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets', 'tcia_btcv_3d.py'))
    assert cfg.teacher_size == (128, 128, 4)
    dataset = DATASETS.build(
        dict(
            cfg.val_dataloader.dataset,
            data_root=volumes_root,
            ann_file='anns/train.json'))
    sample = dataset[1]
    assert sample['inputs'].shape == (1, 6, 5, 3)
    meta = sample['data_samples'].metainfo
    assert meta['dataset_name'] == 'organs-spleen'
    assert meta['active_class'] == 2 and meta['subject'] == 's1'
    assert meta['spacing'] == pytest.approx((0.9, 0.8, 2.5))
    assert int(sample['data_samples'].gt_sem_seg.data.sum()) == 4
    # Training crops the teacher's field of view, padding this small one.
    train = DATASETS.build(
        dict(cfg.train_dataloader.dataset, data_root=volumes_root))
    packed = train[0]
    assert packed['inputs'].shape == (1, 128, 128, 4)
    assert packed['data_samples'].gt_sem_seg.shape == (128, 128, 4)
    assert packed['data_samples'].active_class in (1, 2, 3)


def test_toy_volumes_dataloader(tmp_path):
    """mmengine builds batches from the toy 3D config, no model needed."""
    script = osp.join(REPO, 'tools', 'misc', 'generate_toy_organs.py')
    spec = importlib.util.spec_from_file_location('toy', script)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    root = str(tmp_path / 'toy_organs_3d')
    gen.generate_toy_organs(
        root,
        dict(train=2, val=1, test=1),
        num_slices=16,
        size=32,
        volumes=True)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets', 'toy_organs_3d.py'))
    for key in ('train_dataloader', 'val_dataloader'):
        cfg[key].update(num_workers=0)
        cfg[key].dataset.update(data_root=root, active_classes=[1, 2, 3])
    batch = next(iter(Runner.build_dataloader(cfg.train_dataloader, seed=0)))
    assert [tuple(x.shape) for x in batch['inputs']] == [(1, 32, 32, 8)] * 2
    for sample in batch['data_samples']:
        assert isinstance(sample.gt_sem_seg, VolumeData)
        assert sample.gt_sem_seg.data.dtype == torch.int64
        assert sample.active_class in (1, 2, 3)
        assert sample.ori_shape == (32, 32, 16)
        assert sample.spacing == pytest.approx((1.25, 1.25, 2.5))
    val = list(Runner.build_dataloader(cfg.val_dataloader, seed=0))
    assert [len(b['inputs']) for b in val] == [1, 1, 1]
    assert [b['data_samples'][0].dataset_name for b in val] == [
        'toy_organs_3d-liver', 'toy_organs_3d-spleen',
        'toy_organs_3d-left kidney'
    ]
    assert val[0]['inputs'][0].shape == (1, 32, 32, 16)
