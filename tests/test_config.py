# Copyright (c) OpenMMLab. All rights reserved.
"""Every shipped config parses and names only registered types."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmvlsm  # noqa: F401
from mmvlsm.registry import (DATASETS, HOOKS, METRICS, MODELS, OPTIMIZERS,
                             PARAM_SCHEDULERS, TRANSFORMS)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    path for path in glob.glob(
        osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in path)


def _types(cfg, registry_of_key, found, key=None):
    """Collect (registry, type) of every ``type`` in a config tree."""
    if isinstance(cfg, dict):
        if 'type' in cfg and isinstance(cfg['type'], str):
            found.append((registry_of_key(key), cfg['type']))
        for sub_key, value in cfg.items():
            _types(value, registry_of_key, found, sub_key)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _types(value, registry_of_key, found, key)
    return found


def _registry_of(key):
    return {
        'model': MODELS,
        'data_preprocessor': MODELS,
        'losses': MODELS,
        'dataset': DATASETS,
        'datasets': DATASETS,
        'pipeline': TRANSFORMS,
        'optimizer': OPTIMIZERS,
        'param_scheduler': PARAM_SCHEDULERS,
        'val_evaluator': METRICS,
        'test_evaluator': METRICS,
        'custom_hooks': HOOKS,
    }.get(key)


MEDVLSM_DATASETS = ('kvasir-polyp', 'clinicdb-polyp', 'bkai-polyp',
                    'cvc300-polyp', 'colondb-polyp', 'etis-polyp', 'isic',
                    'dfu', 'camus', 'busi', 'chexlocalize')


def test_a_config_per_medvlsm_dataset():
    names = {osp.basename(path) for path in CONFIGS}
    for dataset in MEDVLSM_DATASETS:
        assert f'clipseg-rd64-refined_1xb128_{dataset}-352x352.py' in names
        assert f'biomedclipseg_1xb128_{dataset}-224x224.py' in names
        assert f'biomedclipseg-d_1xb128_{dataset}-224x224.py' in names


def _pipelines(dataset):
    """The pipelines of a dataset config and of every ConcatDataset
    member."""
    if 'datasets' in dataset:
        return [
            p for member in dataset['datasets'] for p in _pipelines(member)
        ]
    return [dataset['pipeline']]


@pytest.mark.parametrize('dataset', MEDVLSM_DATASETS)
def test_biomedclipseg_configs_resize_to_224(dataset):
    """Every dataloader of both variants feeds BiomedCLIP's 224x224 input,
    with the same data as the CLIPSeg config of that dataset."""
    clipseg = Config.fromfile(
        osp.join(REPO, 'configs', 'clipseg',
                 f'clipseg-rd64-refined_1xb128_{dataset}-352x352.py'))
    for variant, decoder_pretrained in (('biomedclipseg', None),
                                        ('biomedclipseg-d',
                                         'CIDAS/clipseg-rd64-refined')):
        cfg = Config.fromfile(
            osp.join(REPO, 'configs', 'biomedclipseg',
                     f'{variant}_1xb128_{dataset}-224x224.py'))
        assert cfg.model.type == 'BiomedCLIPSeg'
        assert cfg.model.get('decoder_pretrained') == decoder_pretrained
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            pipelines = _pipelines(cfg[loader]['dataset'])
            references = _pipelines(clipseg[loader]['dataset'])
            assert len(pipelines) == len(references)
            for pipeline, reference in zip(pipelines, references):
                scales = [
                    t['scale'] for t in pipeline if t['type'] == 'Resize'
                ]
                assert scales == [(224, 224)], (variant, loader)
                assert [t['type'] for t in pipeline] == \
                    [t['type'] for t in reference]


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_types_are_registered(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmvlsm'
    init_default_scope('mmvlsm')
    keys = ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader',
            'optim_wrapper', 'param_scheduler', 'val_evaluator',
            'test_evaluator', 'custom_hooks')
    found = []
    for key in keys:
        if key in cfg:
            _types(cfg[key], _registry_of, found, key)
    for hook in cfg.default_hooks.values():
        found.append((HOOKS, hook['type']))
    assert any(name == 'MedVLSMDataset' for _, name in found)
    for registry, name in found:
        if registry is not None:
            assert registry.get(name) is not None, \
                f'{name} is not in the {registry.name} registry ({path})'


def test_augmented_pipeline_keeps_image_mask_and_text_consistent(tmp_path):
    """The augmented Kvasir config's train pipeline on toy samples."""
    import json

    import cv2
    import numpy as np
    import torch
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'clipseg',
                 'clipseg-rd64-refined_1xb128-aug_kvasir-polyp-352x352.py'))
    (tmp_path / 'images').mkdir()
    (tmp_path / 'masks').mkdir()
    (tmp_path / 'anns').mkdir()
    # A bright square on the left half, described as such.
    img = np.zeros((120, 200, 3), np.uint8)
    img[40:80, 20:60] = 255
    mask = np.zeros((120, 200), np.uint8)
    mask[40:80, 20:60] = 255
    cv2.imwrite(str(tmp_path / 'images' / 'a.png'), img)
    cv2.imwrite(str(tmp_path / 'masks' / 'a.png'), mask)
    record = dict(
        img_name='a.png',
        mask_name='a.png',
        prompts=dict(p0='', p1='square on the left'))
    (tmp_path / 'anns' / 'train.json').write_text(json.dumps([record]))

    init_default_scope('mmvlsm')
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    dataset_cfg.update(data_root=str(tmp_path), prompt_type='p1')
    dataset = DATASETS.build(dataset_cfg)
    seen_texts = set()
    for seed in range(12):
        torch.manual_seed(seed)
        np.random.seed(seed)
        sample = dataset[0]
        gt = sample['data_samples'].gt_sem_seg.data
        text = sample['data_samples'].text
        assert sample['inputs'].shape == (3, 352, 352)
        assert set(gt.unique().tolist()) <= {0, 1} and gt.sum() > 0
        # The square's side of the image agrees with the prompt.
        centre_x = gt[0].nonzero()[:, 1].float().mean().item()
        assert (centre_x < 176) == (text == 'square on the left'), text
        seen_texts.add(text)
    assert seen_texts == {'square on the left', 'square on the right'}
