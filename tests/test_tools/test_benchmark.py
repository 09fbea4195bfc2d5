# Copyright (c) OpenMMLab. All rights reserved.
"""The benchmark script runs in each of its modes (not a timing test)."""
import sys

from .conftest import QUICKSTART_CONFIG, run_tool

BENCHMARK = 'tools/analysis_tools/benchmark.py'
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
