# Copyright (c) OpenMMLab. All rights reserved.
"""The tiny 3D PUNet through the real tools, on toy organ volumes: phase 1
(focal + contrastive losses on 3D student views), phase 2 prompt tuning of
a new organ, per-volume per-class Dice from tools/test.py, and a NIfTI in
and out of tools/infer.py with the input's geometry."""
import json
import os.path as osp
import sys

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from .conftest import REPO, run_tool

PHASE1 = osp.join(REPO, 'configs', 'punet',
                  'punet-tiny-3d-meta-self_1xb2-60it_toy-organs-32x32x8.py')
PHASE2 = osp.join(REPO, 'configs', 'punet',
                  'punet-tiny-3d-prompting_1xb2-30it_toy-organs-32x32x8.py')


@pytest.fixture(scope='module')
def toy_volumes(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy3d') / 'toy_organs_3d'
    run_tool([
        sys.executable, 'tools/misc/generate_toy_organs.py', '--volumes',
        '--num-train', '3', '--num-val', '1', '--num-test', '1', '--size',
        '48', '--out-dir',
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


def test_tiny_3d_punet_trains_tests_and_infers(toy_volumes, tmp_path):
    phase1 = tmp_path / 'phase1'
    short = [
        'train_cfg.max_iters=6', 'train_cfg.val_interval=6',
        'default_hooks.checkpoint.interval=6'
    ]
    log = run_tool([
        sys.executable, 'tools/train.py', PHASE1, '--work-dir',
        str(phase1), '--quiet'
    ] + options(toy_volumes, *short))
    assert 'loss_cpa_s1' in log and 'loss_focal_s0' in log
    # Validation scores each whole volume once per class.
    assert 'toy_organs_3d-spleen/mDice' in log
    checkpoint = phase1 / 'iter_6.pth'

    phase2 = tmp_path / 'phase2'
    run_tool([
        sys.executable, 'tools/train.py', PHASE2, '--work-dir',
        str(phase2), '--quiet'
    ] + options(toy_volumes, f'model.adapt_cfg.host_checkpoint={checkpoint}',
                'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
                'default_hooks.checkpoint.interval=4',
                'param_scheduler.0.total_steps=4'))
    state = torch.load(phase2 / 'iter_4.pth', weights_only=False)['state_dict']
    # Only the new class's prompts and the shared bias projections train.
    assert state and all('.prompts.4' in k or '.prompt_embeddings.4' in k
                         or k.endswith('prompt_weights') for k in state)

    work = tmp_path / 'test'
    log = run_tool([
        sys.executable, 'tools/test.py', PHASE2,
        str(phase2 / 'iter_4.pth'), '--work-dir',
        str(work), '--quiet'
    ] + options(toy_volumes, f'model.adapt_cfg.host_checkpoint={checkpoint}'))
    metrics = json.loads((work / 'test_metrics.json').read_text())
    # One row per test volume for the new class.
    assert '| toy_organs_3d-right kidney |   1    |' in log
    assert 0 <= metrics['mDice'] <= 100
    # HD95 and NSD in mm from the volume's spacing.
    assert 'mHD95_mm' in metrics and 'mNSD_mm' in metrics

    scan = next((toy_volumes / 'images').glob('*.nii.gz'))
    out = tmp_path / 'masks'
    # The phase-1 checkpoint holds the whole model.
    run_tool([
        sys.executable, 'tools/infer.py', PHASE1,
        str(checkpoint), '--img',
        str(scan), '--class', 'spleen', '--class', 'liver', '--out',
        str(out), '--quiet'
    ])
    mask = sitk.ReadImage(str(out / scan.name))
    source = sitk.ReadImage(str(scan))
    assert (mask.GetSize(), mask.GetSpacing(), mask.GetOrigin(),
            mask.GetDirection()) == (source.GetSize(), source.GetSpacing(),
                                     source.GetOrigin(), source.GetDirection())
    assert set(np.unique(sitk.GetArrayFromImage(mask))) <= {0, 1, 2}
    record = json.loads(
        (out / scan.name.replace('.nii.gz', '.json')).read_text())
    assert record['legend'] == {'0': 'background', '1': 'spleen', '2': 'liver'}
