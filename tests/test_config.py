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
from mmvlsm.utils.launch import load_config

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
        assert f'cris_r50_1xb32_{dataset}-416x416.py' in names


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


CRIS_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'cris', '*.py')))
CRIS_OFFICIAL = osp.join(REPO, 'configs', 'cris',
                         'cris_r50-official_1xb64_kvasir-polyp-416x416.py')


def _cris_config(dataset):
    return osp.join(REPO, 'configs', 'cris',
                    f'cris_r50_1xb32_{dataset}-416x416.py')


@pytest.mark.parametrize('path', CRIS_CONFIGS, ids=osp.basename)
def test_cris_configs_load(path):
    cfg = load_config(path)
    assert cfg.model.type == 'CRIS'
    # The FPN's BatchNorm1d fails on a one-sample training batch.
    assert cfg.train_dataloader.drop_last is True


@pytest.mark.parametrize('dataset', MEDVLSM_DATASETS)
def test_cris_medvlsm_configs(dataset):
    """The medvlsm recipe: 416x416 resizes of the same data as the CLIPSeg
    config, 77-token prompts, AdamW at 2e-5 for every parameter, batch 32,
    fine-tuning from the converted RefCOCO checkpoint."""
    clipseg = Config.fromfile(
        osp.join(REPO, 'configs', 'clipseg',
                 f'clipseg-rd64-refined_1xb128_{dataset}-352x352.py'))
    cfg = load_config(_cris_config(dataset))
    assert cfg.model.clip_pretrained is None
    assert cfg.load_from == 'pretrain/cris_r50_refcoco_mmvlsm.pth'
    assert cfg.model.context_length == 77
    assert cfg.model.decode_head.dropout == 0.2
    assert cfg.model.test_cfg.threshold == 0.35
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == 2e-5
    assert not cfg.optim_wrapper.get('paramwise_cfg')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset_cfg = cfg[loader]['dataset']
        reference = clipseg[loader]['dataset']
        pipelines = _pipelines(dataset_cfg)
        references = _pipelines(reference)
        assert len(pipelines) == len(references)
        for pipeline, ref_pipeline in zip(pipelines, references):
            scales = [t['scale'] for t in pipeline if t['type'] == 'Resize']
            assert scales == [(416, 416)], loader
            assert [t['type'] for t in pipeline] == \
                [t['type'] for t in ref_pipeline]
            tokenize = [t for t in pipeline if t['type'] == 'TokenizePrompt']
            assert tokenize[0]['context_length'] == 77
        members = dataset_cfg.get('datasets', [dataset_cfg])
        ref_members = reference.get('datasets', [reference])
        assert [(m['data_root'], m['ann_file']) for m in members] == \
            [(m['data_root'], m['ann_file']) for m in ref_members]
    if dataset in ('cvc300-polyp', 'colondb-polyp', 'etis-polyp'):
        # Out-of-distribution sets: every image, train and test splits.
        root = f"data/{dataset.replace('-', '_')}"
        assert [(m['data_root'], m['ann_file'])
                for m in cfg.test_dataloader.dataset.datasets] == \
            [(root, 'anns/train.json'), (root, 'anns/test.json')]


def test_cris_official_config():
    """The official recipe: letterboxed inputs, 17-token prompts, BCE on the
    1/4-resolution logits, Adam at 1e-4 with CLIP at 1e-5, batch 64."""
    cfg = load_config(CRIS_OFFICIAL)
    assert cfg.model.clip_pretrained == 'pretrain/RN50.pt'
    assert cfg.load_from is None
    assert cfg.model.context_length == 17
    assert cfg.model.decode_head.dropout == 0.1
    assert cfg.model.losses == [dict(type='SigmoidBCELoss')]
    assert cfg.model.train_cfg.loss_size == 'logits'
    assert cfg.train_dataloader.batch_size == 64
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == \
        ('Adam', 1e-4, 0)
    assert 'clip_grad' not in cfg.optim_wrapper
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys == dict(
        backbone=dict(lr_mult=0.1), text_encoder=dict(lr_mult=0.1))
    assert cfg.param_scheduler == [
        dict(type='MultiStepLR', milestones=[35], gamma=0.1, by_epoch=True)
    ]
    assert cfg.train_cfg.max_epochs == 50
    assert not cfg.custom_hooks
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = cfg[loader]['dataset']['pipeline']
        types = [t['type'] for t in pipeline]
        assert 'Resize' not in types
        assert [
            t['scale'] for t in pipeline if t['type'] == 'LetterBoxResize'
        ] == [(416, 416)]
        # Test masks are loaded after the letterbox: metrics at the
        # original size.
        if loader != 'train_dataloader':
            assert types.index('LoadBinaryMask') > \
                types.index('LetterBoxResize')
        tokenize = [t for t in pipeline if t['type'] == 'TokenizePrompt']
        assert tokenize[0]['context_length'] == 17


def test_cris_r50_config_builds_with_official_parameter_count():
    """CRIS R50 has the official model's 146,849,122 parameters minus
    CLIP's unused logit_scale; the official recipe's optimizer runs CLIP
    (backbone and text encoder) at 1/10 of the rate."""
    from mmengine.optim import build_optim_wrapper
    cfg = load_config(CRIS_OFFICIAL)
    init_default_scope('mmvlsm')
    model_cfg = cfg.model.copy()
    model_cfg['clip_pretrained'] = None
    model = MODELS.build(model_cfg)
    assert sum(p.numel() for p in model.parameters()) == 146_849_121
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): name for name, p in model.named_parameters()}
    for group in optim_wrapper.optimizer.param_groups:
        for param in group['params']:
            clip = names[id(param)].startswith(('backbone.', 'text_encoder.'))
            assert group['lr'] == pytest.approx(1e-5 if clip else 1e-4)
