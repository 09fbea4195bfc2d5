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


def test_a_config_per_medvlsm_dataset():
    names = {osp.basename(path) for path in CONFIGS}
    for dataset in ('kvasir-polyp', 'clinicdb-polyp', 'bkai-polyp',
                    'cvc300-polyp', 'colondb-polyp', 'etis-polyp', 'isic',
                    'dfu', 'camus', 'busi', 'chexlocalize'):
        assert f'clipseg-rd64-refined_1xb128_{dataset}-352x352.py' in names


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
