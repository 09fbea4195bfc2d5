# Copyright (c) OpenMMLab. All rights reserved.
"""The tiny BiomedCLIPSeg config through the real tools."""
import sys

from .conftest import (REPO, evaluate_checkpoint, run_tool, tiny_run_options,
                       train_config)

TINY_CONFIG = (f'{REPO}/configs/biomedclipseg/'
               'biomedclipseg-tiny_1xb16-40it_toy-shapes-224x224.py')


def test_tiny_biomedclipseg_trains_and_tests(toy_root, tmp_path):
    weights = tmp_path / 'tiny_biomedclip'
    run_tool([
        sys.executable, 'tools/misc/generate_tiny_open_clip.py', '--out-dir',
        str(weights)
    ])
    options = tiny_run_options(
        toy_root, max_iters=2,
        interval=2) + [f'model.pretrained=local-dir:{weights}']
    work_dir = tmp_path / 'work'
    log = train_config(TINY_CONFIG, work_dir, options)
    assert 'Iter(train) [2/2]' in log and 'mDice' in log
    metrics = evaluate_checkpoint(
        TINY_CONFIG,
        work_dir / 'iter_2.pth',
        tmp_path / 'test',
        options,
        out=tmp_path / 'masks')
    assert 0.0 <= metrics['mDice'] <= 100.0
    assert len(list((tmp_path / 'masks').glob('*.png'))) == 8
