# Copyright (c) OpenMMLab. All rights reserved.
"""The tiny BiomedCLIPSeg config through the real tools."""
import json
import sys

from .conftest import REPO, run_tool, tiny_run_options

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
    log = run_tool([
        sys.executable, 'tools/train.py', TINY_CONFIG, '--work-dir',
        str(work_dir)
    ] + options)
    assert 'Iter(train) [2/2]' in log and 'mDice' in log
    run_tool([
        sys.executable, 'tools/test.py', TINY_CONFIG,
        str(work_dir / 'iter_2.pth'), '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(tmp_path / 'masks')
    ] + options)
    metrics = json.loads((tmp_path / 'test' / 'test_metrics.json').read_text())
    assert 0.0 <= metrics['mDice'] <= 100.0
    assert len(list((tmp_path / 'masks').glob('*.png'))) == 8
