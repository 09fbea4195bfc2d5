# Copyright (c) OpenMMLab. All rights reserved.
import json
import sys

from .conftest import run_tool

TOOL = 'tools/analysis_tools/summarize_runs.py'


def fake_run(root, name, config, prompt_type, metrics):
    """A tools/test.py work dir: its metrics and the dumped config."""
    run = root / name
    run.mkdir()
    (run / f'{config}.py').write_text(
        f'test_dataloader = dict(dataset=dict(prompt_type={prompt_type!r}))')
    (run / 'test_metrics.json').write_text(json.dumps(metrics))
    return str(run)


def test_mean_and_std_over_seeds(tmp_path):
    runs = [
        fake_run(tmp_path, f'seed{i}', 'clipseg_kvasir', 'p1', {
            'kvasir/mDice': dice,
            'kvasir/mIoU': dice - 10,
            'etis/mDice': dice - 20,
            'etis/mIoU': dice - 30,
            'mDice': 0.0,
        }) for i, dice in enumerate((80.0, 84.0, 82.0))
    ]
    runs.append(
        fake_run(tmp_path, 'other', 'cris_kvasir', 'p6', {
            'mDice': 90.0,
            'mIoU': 85.0,
            'mHD95': 12.5
        }))
    out = tmp_path / 'summary'
    log = run_tool([sys.executable, TOOL, *runs, '--out', str(out)])
    assert '| clipseg_kvasir | p1 | kvasir | 3 | 82.00 ± 2.00 | 72.00 ± 2.00' \
        in log
    assert '| cris_kvasir | p6 | all | 1 | 90.00 ± 0.00 | 85.00 ± 0.00' in log
    rows = (out / 'summary.csv').read_text().splitlines()
    assert rows[0].startswith('config,prompt_type,dataset,runs,mDice_mean')
    assert len(rows) == 4  # kvasir, etis, cris
    assert 'mHD95_mean' in rows[0]
    assert (out / 'summary.md').read_text().count('\n') == 5
    assert '| clipseg_kvasir | p1 | etis | 3 | 62.00 ± 2.00' in log


def test_a_folder_that_is_not_a_test_run(tmp_path):
    log = run_tool([sys.executable, TOOL,
                    str(tmp_path), '--out',
                    str(tmp_path / 'o')],
                   expect_fail=True)
    assert 'has no test_metrics.json' in log
