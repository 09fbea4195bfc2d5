# Copyright (c) OpenMMLab. All rights reserved.
"""Every shipped config parses and names only registered types."""
import glob
import os.path as osp
import re

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image
from torchvision import transforms as T

import mmvlsm  # noqa: F401
from mmvlsm.registry import DATASETS, MODELS, task_registries
from mmvlsm.utils.launch import config_task, load_config

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


def _registry_lookup(registries):
    """key of a config dict -> the registry its ``type`` is built from."""
    model_keys = ('model', 'data_preprocessor', 'losses', 'adapters',
                  'backbone', 'neck', 'head', 'loss')
    table = dict.fromkeys(model_keys, registries.MODELS)
    table.update(
        dataset=registries.DATASETS,
        datasets=registries.DATASETS,
        sampler=registries.DATA_SAMPLERS,
        pipeline=registries.TRANSFORMS,
        optimizer=registries.OPTIMIZERS,
        param_scheduler=registries.PARAM_SCHEDULERS,
        val_evaluator=registries.METRICS,
        test_evaluator=registries.METRICS,
        custom_hooks=registries.HOOKS)
    return table.get


# The dataset types the configs of a task use (PUNet: multi-class slices
# or volumes).
TASK_DATASETS = dict(
    segmentation=('MedVLSMDataset', 'MultiClassSliceDataset',
                  'MultiClassVolumeDataset'),
    classification=('SlidePatchDataset', ))

# The parameter-efficient fine-tuning variants of CLIPSeg rd64-refined in
# configs/vlsm_adapter: variant -> (learning rate, trainable parameters).
# The adapter counts are VLSM-Adapter's (2 * d * r + r + d per adapter);
# decoder-only is the whole decoder, what upstream's CLIPSeg fine-tuning
# trained in effect; LoRA's is computed from the model.
CLIPSEG_PEFT_VARIANTS = {
    'shallow-adapter-v': (3e-4, 2_363_136),
    'shallow-adapter-vl': (3e-4, 3_939_072),
    'shallow-adapter-vlc': (3e-4, 4_201_984),
    'dense-adapter-v': (1e-3, 1_784_448),
    'dense-adapter-vl': (1e-3, 2_974_464),
    'dense-adapter-vlc': (1e-3, 3_237_376),
    'decoder-only': (1e-3, 1_127_009),
    'lora': (1e-4, None),
}
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
        for variant in CLIPSEG_PEFT_VARIANTS:
            assert f'clipseg-{variant}_1xb32_{dataset}-352x352.py' in names


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
    registries = task_registries(cfg.default_scope)
    init_default_scope(cfg.default_scope)
    registry_of = _registry_lookup(registries)
    keys = ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader',
            'optim_wrapper', 'param_scheduler', 'val_evaluator',
            'test_evaluator', 'custom_hooks')
    found = []
    for key in keys:
        if key in cfg:
            _types(cfg[key], registry_of, found, key)
    for hook in cfg.default_hooks.values():
        found.append((registries.HOOKS, hook['type']))
    assert any(name in TASK_DATASETS[config_task(cfg)] for _, name in found)
    for registry, name in found:
        if registry is not None:
            assert registry.get(name) is not None, \
                f'{name} is not in the {registry.name} registry ({path})'


def test_augmented_pipeline_keeps_image_mask_and_text_consistent(tmp_path):
    """The augmented Kvasir config's train pipeline on toy samples."""
    import json

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


VLSM_ADAPTER = osp.join(REPO, 'configs', 'vlsm_adapter')
VLSM_ADAPTER_CONFIGS = sorted(glob.glob(osp.join(VLSM_ADAPTER, '*.py')))
VLSM_ADAPTER_CRIS = osp.join(
    VLSM_ADAPTER, 'cris_r50-dense-adapter_1xb32_kvasir-polyp-416x416.py')
VLSM_ADAPTER_BIOMEDCLIPSEG = osp.join(
    VLSM_ADAPTER,
    'biomedclipseg-dense-adapter-vl_1xb32_kvasir-polyp-224x224.py')
VLSM_ADAPTER_TINY = osp.join(
    VLSM_ADAPTER,
    'clipseg-tiny-dense-adapter-vlc_1xb16-40it_toy-shapes-128x128.py')
QUICKSTART = osp.join(REPO, 'configs', 'quickstart',
                      'clipseg-tiny_1xb16-650it_toy-shapes-128x128.py')


def _trainable(model):
    return {
        name: p.numel()
        for name, p in model.named_parameters() if p.requires_grad
    }


@pytest.mark.parametrize('path', VLSM_ADAPTER_CONFIGS, ids=osp.basename)
def test_vlsm_adapter_configs_load(path):
    """Adapted models: the host comes from the config (its pretrained
    weights or `adapt_cfg.host_checkpoint`), never from `load_from`, whose
    checkpoint would have to hold the whole model; every trainable
    parameter trains at the configured lr."""
    cfg = load_config(path)
    assert cfg.model.adapt_cfg
    assert cfg.load_from is None
    assert not cfg.optim_wrapper.get('paramwise_cfg')
    assert cfg.randomness.seed == 42


@pytest.mark.parametrize('dataset', MEDVLSM_DATASETS)
def test_vlsm_adapter_clipseg_configs(dataset):
    """VLSM-Adapter's recipe on the data of the CLIPSeg config: random
    prompt types, batch 32, AdamW with weight decay 1e-3 at the variant's
    lr, clipping at 0.5, LR x0.3 on a 5-epoch plateau, at most 200 epochs,
    medvlsm's early stopping."""
    clipseg = load_config(
        osp.join(REPO, 'configs', 'clipseg',
                 f'clipseg-rd64-refined_1xb128_{dataset}-352x352.py'))
    for variant, (lr, _) in CLIPSEG_PEFT_VARIANTS.items():
        cfg = load_config(
            osp.join(VLSM_ADAPTER,
                     f'clipseg-{variant}_1xb32_{dataset}-352x352.py'))
        assert cfg.model.pretrained == 'CIDAS/clipseg-rd64-refined'
        assert cfg.train_dataloader.batch_size == 32
        optimizer = cfg.optim_wrapper.optimizer
        assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == \
            ('AdamW', lr, 1e-3), variant
        assert cfg.optim_wrapper.clip_grad.max_norm == 0.5
        assert [(s.type, s.factor, s.patience)
                for s in cfg.param_scheduler] == \
            [('ReduceOnPlateauLR', 0.3, 5)]
        assert cfg.train_cfg.max_epochs == 200
        assert cfg.custom_hooks == clipseg.custom_hooks
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            assert cfg[loader]['dataset'] == clipseg[loader]['dataset']
            dataset_cfg = cfg[loader]['dataset']
            for member in dataset_cfg.get('datasets', [dataset_cfg]):
                assert member['prompt_type'] == 'random'
        if dataset in ('cvc300-polyp', 'colondb-polyp', 'etis-polyp'):
            # Out-of-distribution sets: every image, train and test splits.
            root = f"data/{dataset.replace('-', '_')}"
            assert [(m['data_root'], m['ann_file'])
                    for m in cfg.test_dataloader.dataset.datasets] == \
                [(root, 'anns/train.json'), (root, 'anns/test.json')]


@pytest.mark.parametrize('variant', CLIPSEG_PEFT_VARIANTS)
def test_clipseg_peft_variant_trainable_parameter_count(variant):
    """Each variant, built at full size (CLIPSeg rd64-refined's
    architecture, random weights), trains VLSM-Adapter's number of
    parameters, and only adapters (or the decoder, for decoder-only)."""
    from mmengine.config import ConfigDict
    cfg = load_config(
        osp.join(VLSM_ADAPTER, '_base_', f'clipseg-{variant}.py'))
    architecture = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'models',
                 'clipseg_vit-b16-rd64.py')).model
    model_cfg = ConfigDict(cfg.model)
    model_cfg.update(
        pretrained=None,
        config=architecture.config,
        tokenizer=dict(type='openai_bpe'))
    init_default_scope('mmvlsm')
    model = MODELS.build(model_cfg)
    trainable = _trainable(model)
    count = sum(trainable.values())
    print(f'{variant}: {count:,} trainable parameters')
    expected = CLIPSEG_PEFT_VARIANTS[variant][1]
    if variant == 'lora':
        lora = cfg.model.adapt_cfg.adapters[0]
        adapted = [
            module.base_layer for name, module in model.named_modules()
            if re.fullmatch(lora.target_modules, name)
        ]
        # q and v of 10 vision and 10 text layers
        assert len(adapted) == 40
        expected = sum(lora.r * (layer.in_features + layer.out_features)
                       for layer in adapted)
        assert all('.lora_' in name for name in trainable)
    elif variant == 'decoder-only':
        assert all(name.startswith('decoder.') for name in trainable)
    else:
        assert all('.adapter.' in name or name.startswith('adapters.')
                   for name in trainable)
    assert count == expected


def test_vlsm_adapter_cris_config():
    """Dense adapters on CRIS: the converted RefCOCO CRIS as the host
    (through adapt_cfg, not load_from), the medvlsm CRIS config's data,
    adapters in the 12 text layers and the 3 decoder layers."""
    cfg = load_config(VLSM_ADAPTER_CRIS)
    cris = load_config(
        osp.join(REPO, 'configs', 'cris',
                 'cris_r50_1xb32_kvasir-polyp-416x416.py'))
    assert cfg.model.type == 'CRIS'
    assert cfg.model.clip_pretrained is None
    assert cfg.model.adapt_cfg.host_checkpoint == \
        'pretrain/cris_r50_refcoco_mmvlsm.pth'
    assert cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.train_dataloader.drop_last is True
    assert cfg.train_dataloader.batch_size == 32
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader]['dataset'] == cris[loader]['dataset']
    model_cfg = cfg.model.copy()
    model_cfg['adapt_cfg'] = dict(cfg.model.adapt_cfg, host_checkpoint=None)
    init_default_scope('mmvlsm')
    model = MODELS.build(model_cfg)
    trainable = _trainable(model)
    adapters = {name.rsplit('.adapter.', 1)[0] for name in trainable}
    assert len(adapters) == 12 * 2 + 3 * 3
    # 33 adapters of 2 * 512 * 64 + 64 + 512 parameters
    assert sum(trainable.values()) == 33 * 66_112


def test_vlsm_adapter_biomedclipseg_config(tmp_path):
    """Dense adapters on BiomedCLIPSeg, checked on a tiny BiomedCLIP of
    the same kind (timm ViT/16 with 12 blocks, BERT): adapters after the
    attention and the MLP of ViT blocks 0-9 and after both output
    projections of every BERT layer; the decoder, which starts at random,
    trains too."""
    from mmvlsm.testing import save_tiny_open_clip
    cfg = load_config(VLSM_ADAPTER_BIOMEDCLIPSEG)
    biomedclipseg = load_config(
        osp.join(REPO, 'configs', 'biomedclipseg',
                 'biomedclipseg_1xb128_kvasir-polyp-224x224.py'))
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.train_dataloader.batch_size == 32
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader]['dataset'] == biomedclipseg[loader]['dataset']
    save_tiny_open_clip(str(tmp_path))
    model_cfg = cfg.model.copy()
    model_cfg['pretrained'] = f'local-dir:{tmp_path}'
    init_default_scope('mmvlsm')
    model = MODELS.build(model_cfg)
    adapted = {
        name[:-len('.adapter')]
        for name, _ in model.named_modules() if name.endswith('.adapter')
    }
    text_layers = len(model.text_model.transformer.encoder.layer)
    assert adapted == {
        f'vision_model.blocks.{i}.{part}'
        for i in range(10)
        for part in ('attn', 'mlp')
    } | {
        f'text_model.transformer.encoder.layer.{i}.{part}.dense'
        for i in range(text_layers)
        for part in ('attention.output', 'output')
    }
    assert all(
        name.startswith('decoder.') or '.adapter.' in name
        for name in _trainable(model))
    assert any(name.startswith('decoder.') for name in _trainable(model))


def test_vlsm_adapter_tiny_config(tmp_path):
    """The tiny config adapts the quickstart model from the checkpoint
    `make quickstart` writes, for 40 iterations; checked with a random
    host."""
    import torch
    cfg = load_config(VLSM_ADAPTER_TINY)
    assert cfg.model.adapt_cfg.host_checkpoint == \
        'work_dirs/quickstart/iter_650.pth'
    assert cfg.train_cfg.max_iters == 40
    init_default_scope('mmvlsm')
    host = MODELS.build(load_config(QUICKSTART).model)
    host_checkpoint = str(tmp_path / 'iter_650.pth')
    torch.save(dict(state_dict=host.state_dict()), host_checkpoint)
    model_cfg = cfg.model.copy()
    model_cfg['adapt_cfg'] = dict(
        cfg.model.adapt_cfg, host_checkpoint=host_checkpoint)
    model = MODELS.build(model_cfg)
    # The host's weights, frozen.
    for name, param in host.named_parameters():
        adapted = model.get_parameter(name)
        assert torch.equal(adapted, param) and not adapted.requires_grad
    # 10 adapters 64-16-64 and one 64-32-64
    assert sum(_trainable(model).values()) == 10 * 2_128 + 4_192


def test_cite_schedule_follows_mmcv_cosine_with_constant_warmup():
    """lr_t = 0.5 * 0.03 * (1 + cos(pi * t / 1000)), times 0.005 while
    t < 20: CITE's mmcv schedule, iteration by iteration."""
    import math

    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS

    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'schedules', 'cite_sgd_i1000.py'))
    model = torch.nn.Linear(1, 1)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    schedulers = [
        PARAM_SCHEDULERS.build(dict(s, optimizer=optim_wrapper))
        for s in cfg.param_scheduler
    ]
    for t in range(cfg.train_cfg.max_iters):
        expected = 0.5 * 0.03 * (1 + math.cos(math.pi * t / 1000))
        if t < 20:
            expected *= 0.005
        assert optim_wrapper.get_lr()['lr'][0] == pytest.approx(
            expected, rel=1e-9, abs=1e-15), t
        optim_wrapper.step()
        for scheduler in schedulers:
            scheduler.step()


# CITE's configs on PatchGastric: trainable parameters (CITE: prompt 768 +
# neck 525,312; fine-tuning: CLIP ViT-B/16's image encoder, 86,192,640
# with its projection, and the head),
# and the sampler (CITE's class-balanced batches, random for baselines).
CITE_CONFIGS = {
    'cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py':
    (526_080, 'ClassBalancedInfiniteSampler'),
    'linear-probe_clip-vit-b16_1xb128-1000it_patchgastric-cls3.py':
    (1_539, 'InfiniteSampler'),
    'vpt_clip-vit-b16_1xb128-1000it_patchgastric-cls3.py':
    (768 + 1_539, 'InfiniteSampler'),
    'finetune_clip-vit-b16_1xb128-1000it_patchgastric-cls3.py':
    (86_192_640 + 1_539, 'InfiniteSampler'),
}


@pytest.mark.parametrize('name', CITE_CONFIGS)
def test_cite_configs_train_what_upstream_trains(name, tmp_path):
    import torch
    from mmengine.registry import DefaultScope

    from mmvlsm.registry import classification
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'cite', name))
    trainable, sampler = CITE_CONFIGS[name]
    assert cfg.train_dataloader.sampler.type == sampler
    # Random weights in place of ViT-B-16.pt and BioLinkBERT's embeddings.
    cfg.model.backbone.pretrained = None
    if cfg.model.head.type == 'TextEmbeddingHead':
        torch.save(torch.randn(3, 1024), tmp_path / 'texts.pth')
        cfg.model.head.text_encoder = None
        cfg.model.head.text_embeddings_file = str(tmp_path / 'texts.pth')
    with DefaultScope.overwrite_default_scope('mmvlsm_cls'):
        model = classification.MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()
               if p.requires_grad) == trainable


# CITE's image encoders (configs/cite/cite_<encoder>-biolinkbert-l_*.py):
# frozen backbone parameters, trainable ones (the prompt token), the
# trainable neck (feature_channels x 1024 + 1024) and the feature width.
CITE_ENCODERS = {
    'clip-vit-b16': (86_192_640, 768, 525_312, 512),
    'vit-b16-in21k': (85_798_656, 768, 787_456, 768),
    'mae-vit-b16': (85_798_656, 768, 787_456, 768),
    'mae-vit-l16': (303_301_632, 1_024, 1_049_600, 1_024),
    'retfound-mae-vit-l16': (303_301_632, 1_024, 1_049_600, 1_024),
    'hipt-vit-s16': (21_665_664, 384, 394_240, 384),
    'dinov2-vit-s14': (21_628_800, 384, 787_456, 768),
    'dinov2-vit-b14': (85_724_928, 768, 1_573_888, 1_536),
    'phikon-vit-b16': (85_798_656, 768, 787_456, 768),
}


def test_cite_encoder_parameter_counts(tmp_path):
    """Every full-size encoder config, built by its CITEClassifier on the
    meta device without its weights (random class-name embeddings):
    parameter counts, and the neck's width is the feature's."""
    import torch
    from mmengine.registry import DefaultScope

    from mmvlsm.registry import classification
    texts = str(tmp_path / 'texts.pth')
    torch.save(torch.randn(3, 1024), texts)
    rows = []
    for encoder, expected in CITE_ENCODERS.items():
        cfg = Config.fromfile(
            osp.join(
                REPO, 'configs', 'cite', f'cite_{encoder}-biolinkbert-l_'
                '2xb64-1000it_patchgastric-cls3.py'))
        cfg.model.backbone.pretrained = None
        cfg.model.head.update(text_encoder=None, text_embeddings_file=texts)
        with DefaultScope.overwrite_default_scope('mmvlsm_cls'), \
                torch.device('meta'):
            model = classification.MODELS.build(cfg.model)
        backbone, neck = model.backbone, model.neck
        counts = (
            sum(p.numel() for p in backbone.parameters()
                if not p.requires_grad),
            sum(p.numel() for p in backbone.parameters() if p.requires_grad),
            sum(p.numel() for p in neck.parameters() if p.requires_grad),
            backbone.feature_channels,
        )
        assert neck.fc.in_features == backbone.feature_channels
        assert sum(p.numel() for p in model.head.parameters()) == 0
        rows.append((encoder, *counts))
        assert counts == expected, encoder
    print('\n| encoder | frozen | trainable: prompt | trainable: neck | '
          'feature |')
    for encoder, frozen, prompt, neck, width in rows:
        print(f'| {encoder} | {frozen:,} | {prompt:,} | {neck:,} | '
              f'{width} |')


def test_one_cycle_checkpoint_loads_with_the_safe_loader(tmp_path):
    # mmengine's OneCycleLR pickles its annealing method into checkpoints,
    # which torch's weights_only loader refuses; mmvlsm's keeps plain data.
    import torch
    from mmengine.runner import save_checkpoint

    from mmvlsm.registry import PARAM_SCHEDULERS
    init_default_scope('mmvlsm')
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=1e-3)
    one_cycle = dict(
        type='OneCycleLR',
        eta_max=1e-3,
        total_steps=100,
        pct_start=0.1,
        div_factor=20.0,
        final_div_factor=1.0,
        by_epoch=False)
    scheduler = PARAM_SCHEDULERS.build(
        one_cycle, default_args=dict(optimizer=optimizer))
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    path = tmp_path / 'ckpt.pth'
    save_checkpoint({'param_schedulers': [scheduler.state_dict()]}, str(path))
    state = torch.load(path, weights_only=True)['param_schedulers'][0]
    assert 'anneal_func' not in state
    restored = PARAM_SCHEDULERS.build(
        one_cycle,
        default_args=dict(optimizer=torch.optim.AdamW([param], lr=1e-3)))
    restored.load_state_dict(state)
    assert restored.last_step == scheduler.last_step
    assert restored.anneal_func is scheduler.anneal_func


# PUNet's phase-2 variants on TCIA/BTCV (new class 1), trainable parameters
# of the full-size model: the reference's 57,344 per class for prompting,
# ~23K body biases and norms, the 130-parameter linear probe, the ~2.95M
# decoder body, ~325K adapters.
PUNET_VARIANTS = {
    'prompting': 57_344,
    'bias-prompting': 57_344 + 23_200,
    'fixed': 130,
    'decoder': 130 + 2_948_512,
    'bias': 130 + 23_200,
    'adapter': 130 + 324_896,
}


def test_punet_adaptation_variants_train_what_upstream_trains(tmp_path):
    import torch
    init_default_scope('mmvlsm')
    phase1 = Config.fromfile(
        osp.join(REPO, 'configs', 'punet',
                 'punet-meta-self_1xb16-124800it_tcia-btcv-group2-256x256.py'))
    host = tmp_path / 'phase1.pth'
    torch.save({'state_dict': MODELS.build(phase1.model).state_dict()}, host)
    for variant, trainable in PUNET_VARIANTS.items():
        cfg = Config.fromfile(
            osp.join(
                REPO, 'configs', 'punet', f'punet-{variant}_1xb16-31200it_'
                'tcia-btcv-group2-to-spleen-256x256.py'))
        cfg.model.adapt_cfg.host_checkpoint = str(host)
        model = MODELS.build(cfg.model)
        assert sum(p.numel() for p in model.parameters()
                   if p.requires_grad) == trainable, variant
        # The EMA teacher never trains.
        assert not any(p.requires_grad for p in model.teacher.parameters())


# Resizing as upstream: medvlsm, VLSM-Adapter and CITE resized PIL images
# (``Image.open(path).convert('RGB')``) with torchvision's Resize, i.e.
# PIL's antialiased bilinear, and medvlsm resized masks with PIL's nearest.
# The configs' Resize (mmcv's, backend='pillow') must give those pixels.
CLIPSEG_KVASIR = 'clipseg/clipseg-rd64-refined_1xb128_kvasir-polyp-352x352.py'
CITE_PATCHGASTRIC = \
    'cite/cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py'
UPSTREAM_RESIZE_DIRS = ('clipseg', 'biomedclipseg', 'cris', 'vlsm_adapter',
                        'cite')


def _textured(shape, seed=0):
    """A uint8 image of blobs and noise, (H, W) or (H, W, C)."""
    rng = np.random.default_rng(seed)
    h, w = shape[:2]
    coarse = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1) + shape[2:],
                          np.uint8)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    noise = rng.integers(-25, 26, img.shape)
    return np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)


def _pipeline_to_resize(config, loader, **resize):
    """The steps of a config's pipeline up to its Resize, built; ``resize``
    overrides the Resize's arguments (e.g. ``backend='cv2'``)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    registries = task_registries(cfg.default_scope)
    init_default_scope(cfg.default_scope)
    pipeline = _pipelines(cfg[loader]['dataset'])[0]
    types = [t['type'] for t in pipeline]
    steps = [dict(t) for t in pipeline[:types.index('Resize') + 1]]
    steps[-1].update(resize)
    steps = [registries.TRANSFORMS.build(t) for t in steps]

    def run(results):
        for step in steps:
            results = step(results)
        return results

    return run, steps[-1].scale


def _upstream_image(path, scale):
    """torchvision's Resize on the PIL image, as upstream; (H, W, 3) RGB."""
    image = Image.open(path).convert('RGB')
    return np.array(T.Resize(list(scale[::-1]))(image))


def _upstream_mask(path, scale):
    """medvlsm's mask resize: torchvision's nearest on the PIL mask."""
    resize = T.Resize(
        list(scale[::-1]), interpolation=T.InterpolationMode.NEAREST)
    return np.array(resize(Image.open(path))) > 0


def _max_diff(a, b):
    return int(np.abs(a.astype(int) - b.astype(int)).max())


@pytest.mark.parametrize(
    'config, loader, shape',
    [
        (CITE_PATCHGASTRIC, 'val_dataloader', (300, 300, 3)),  # a patch
        (CITE_PATCHGASTRIC, 'train_dataloader', (300, 300, 3)),
        (CLIPSEG_KVASIR, 'test_dataloader', (400, 500, 3)),  # downscale
        (CLIPSEG_KVASIR, 'test_dataloader', (100, 150, 3)),  # upscale
        ('biomedclipseg/biomedclipseg_1xb128_kvasir-polyp-224x224.py',
         'val_dataloader', (576, 720, 3)),
        ('cris/cris_r50_1xb32_kvasir-polyp-416x416.py', 'test_dataloader',
         (300, 350, 3)),
        # A grey file (BUSI, CAMUS): loaded as 3 equal channels by the
        # config, like PIL's convert('RGB').
        ('clipseg/clipseg-rd64-refined_1xb128_busi-352x352.py',
         'test_dataloader', (500, 400)),
    ])
def test_config_resize_is_torchvision_on_pil(tmp_path, config, loader, shape):
    """The config's loader and Resize give the pixels torchvision's Resize
    gives on the PIL image of the same PNG (exactly, in practice)."""
    path = str(tmp_path / 'img.png')
    cv2.imwrite(path, _textured(shape))
    run, scale = _pipeline_to_resize(config, loader)
    ours = run(dict(img_path=path))['img'][..., ::-1]  # BGR -> RGB
    upstream = _upstream_image(path, scale)
    assert ours.shape == upstream.shape
    assert _max_diff(ours, upstream) <= 1


def _write_image_and_mask(tmp_path, shape=(400, 500)):
    img_path, mask_path = str(tmp_path / 'img.png'), str(tmp_path / 'm.png')
    cv2.imwrite(img_path, _textured(shape + (3, )))
    # Small blobs, so that which source pixel a target pixel takes counts.
    mask = np.where(_textured(shape, seed=1) > 140, 255, 0).astype(np.uint8)
    cv2.imwrite(mask_path, mask)
    return img_path, mask_path


@pytest.mark.parametrize('shape', [(400, 500), (150, 200)])
def test_config_train_resize_of_masks_is_pil_nearest(tmp_path, shape):
    """Training masks are resized as medvlsm did: torchvision's Resize with
    nearest interpolation on the PIL mask."""
    img_path, mask_path = _write_image_and_mask(tmp_path, shape)
    run, scale = _pipeline_to_resize(CLIPSEG_KVASIR, 'train_dataloader')
    results = run(dict(img_path=img_path, seg_map_path=mask_path))
    np.testing.assert_array_equal(results['gt_seg_map'],
                                  _upstream_mask(mask_path, scale))
    assert _max_diff(results['img'][..., ::-1],
                     _upstream_image(img_path, scale)) <= 1


@pytest.mark.parametrize('config, loader, shape', [
    (CITE_PATCHGASTRIC, 'val_dataloader', (300, 300)),
    (CLIPSEG_KVASIR, 'train_dataloader', (400, 500)),
])
def test_cv2_resize_is_not_upstreams(tmp_path, config, loader, shape):
    """OpenCV's resize (mmcv's default backend) does not antialias, so it
    misses upstream's pixels by far more than a grey level: the tests above
    tell the backends apart."""
    img_path, mask_path = _write_image_and_mask(tmp_path, shape)
    run, scale = _pipeline_to_resize(config, loader, backend='cv2')
    results = run(dict(img_path=img_path, seg_map_path=mask_path))
    assert _max_diff(results['img'][..., ::-1],
                     _upstream_image(img_path, scale)) > 5
    if 'gt_seg_map' in results:
        # OpenCV's nearest takes other source pixels than PIL's.
        assert (results['gt_seg_map'] != _upstream_mask(mask_path,
                                                        scale)).any()


@pytest.mark.parametrize(
    'path', [
        p for p in CONFIGS
        if osp.basename(osp.dirname(p)) in UPSTREAM_RESIZE_DIRS
        and 'toy' not in osp.basename(p)
    ],
    ids=osp.basename)
def test_upstream_configs_resize_with_pillow(path):
    """Every Resize of the configs that reproduce a method is PIL's (the toy
    and quickstart configs keep their own pipelines)."""
    cfg = Config.fromfile(path)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for pipeline in _pipelines(cfg[loader]['dataset']):
            for step in pipeline:
                if step['type'] == 'Resize':
                    assert step.get('backend') == 'pillow', (loader, step)
