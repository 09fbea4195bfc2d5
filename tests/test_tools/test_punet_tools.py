# Copyright (c) OpenMMLab. All rights reserved.
"""The tiny PUNet through the real tools: phase 1 (focal + contrastive
losses, EMA teacher) on three toy organs, the checkpoint handed to phase 2,
which prompt-tunes a fourth organ, and per-class Dice from tools/test.py."""
import json
import os
import os.path as osp
import sys

import pytest
import torch

from .conftest import REPO, run_tool

PHASE1 = osp.join(REPO, 'configs', 'punet',
                  'punet-tiny-meta-self_1xb8-200it_toy-organs-64x64.py')
PHASE2 = osp.join(REPO, 'configs', 'punet',
                  'punet-tiny-prompting_1xb8-100it_toy-organs-64x64.py')
NEW = 'toy_organs-right kidney'


@pytest.fixture(scope='module')
def toy_organs(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy') / 'toy_organs'
    run_tool([
        sys.executable, 'tools/misc/generate_toy_organs.py', '--out-dir',
        str(root)
    ])
    return root


def options(root, *extra):
    items = []
    for loader in ('train', 'val', 'test'):
        items += [
            f'{loader}_dataloader.dataset.data_root={root}',
            f'{loader}_dataloader.num_workers=0'
        ]
    return ['--cfg-options', *items, *extra]


def test_tiny_punet_phase1_then_prompt_tuning(toy_organs, tmp_path):
    # Two threads whatever the test runner uses: the Dice reached after
    # 300 steps follows the order of float sums, which follows them.
    env = dict(os.environ, OMP_NUM_THREADS='2')
    phase1 = tmp_path / 'phase1'
    log = run_tool([
        sys.executable, 'tools/train.py', PHASE1, '--work-dir',
        str(phase1)
    ] + options(toy_organs), env=env)
    assert 'loss_cpa_s1' in log and 'loss_focal_s0' in log
    checkpoint = phase1 / 'iter_200.pth'
    assert any(
        k.startswith('teacher.')
        for k in torch.load(checkpoint, weights_only=False)['state_dict'])

    host = f'model.adapt_cfg.host_checkpoint={checkpoint}'
    phase2 = tmp_path / 'phase2'
    log = run_tool([
        sys.executable, 'tools/train.py', PHASE2, '--work-dir',
        str(phase2)
    ] + options(toy_organs, host), env=env)
    # The new class's 16 tokens in the 2 pools of every level (4,096 at
    # 8-16 channels) and in the head's pool (128), its bias embeddings
    # (18 x 16 x 32) and the shared projections (18 x 2 heads x 32); the
    # EMA teacher stays frozen.
    assert '|   all    |   14,592  |' in log
    tuned = phase2 / 'iter_100.pth'
    # Only what trained is saved.
    state = torch.load(tuned, weights_only=False)['state_dict']
    assert len(state) == 18 * 3 + 1, sorted(state)[:5]

    def right_kidney(checkpoint, work_dir):
        log = run_tool([
            sys.executable, 'tools/test.py', PHASE2,
            str(checkpoint), '--work-dir',
            str(work_dir)
        ] + options(toy_organs, host), env=env)
        # One class evaluated: its row, and unprefixed metric keys.
        assert f'| {NEW} |' in log
        metrics = json.loads((work_dir / 'test_metrics.json').read_text())
        return metrics['gDice']

    before = right_kidney(checkpoint, tmp_path / 'before')
    after = right_kidney(tuned, tmp_path / 'after')
    # Prompt tuning alone teaches the frozen network the new organ.
    assert after > before + 10, (before, after)
