# Copyright (c) OpenMMLab. All rights reserved.
"""tools/analysis_tools/evaluate_masks.py scores saved masks as
tools/test.py scores the model that wrote them."""
import csv
import json
import shutil
import sys

import cv2
import pytest

from .conftest import QUICKSTART_CONFIG, run_tool, tiny_run_options

TOOL = 'tools/analysis_tools/evaluate_masks.py'


def test_saved_masks_score_as_the_model(toy_root, untrained_checkpoint,
                                        tmp_path):
    out = tmp_path / 'masks'
    run_tool([
        sys.executable, 'tools/test.py', QUICKSTART_CONFIG,
        str(untrained_checkpoint), '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(out)
    ] + tiny_run_options(toy_root))
    model = json.loads((tmp_path / 'test' / 'test_metrics.json').read_text())
    run_tool([
        sys.executable, TOOL,
        str(out), '--data-root',
        str(toy_root), '--split', 'test', '--surface-metrics', '--out',
        str(tmp_path / 'scores')
    ])
    scores = json.loads((tmp_path / 'scores' / 'metrics.json').read_text())
    for key in ('mDice', 'mIoU', 'gDice', 'gIoU'):
        assert scores[key] == pytest.approx(model[key]), key
    assert {'mHD95', 'mNSD'} <= set(scores)
    with open(tmp_path / 'scores' / 'per_image_metrics.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and {'hd95', 'nsd'} <= set(rows[0])


def test_ground_truth_scores_perfectly_and_missing_files(toy_root, tmp_path):
    preds = tmp_path / 'preds'
    shutil.copytree(toy_root / 'masks', preds)
    run_tool([
        sys.executable, TOOL,
        str(preds), '--data-root',
        str(toy_root), '--split', 'test', '--surface-metrics', '--out',
        str(tmp_path / 'gt')
    ])
    scores = json.loads((tmp_path / 'gt' / 'metrics.json').read_text())
    assert scores['mDice'] == 100.0 and scores['mHD95'] == 0.0
    assert scores['mNSD'] == 100.0

    test_names = {
        r['mask_name']
        for r in json.loads((toy_root / 'anns' / 'test.json').read_text())
    }
    victim = preds / sorted(test_names)[0]
    victim.unlink()
    log = run_tool([
        sys.executable, TOOL,
        str(preds), '--data-root',
        str(toy_root), '--split', 'test', '--out',
        str(tmp_path / 'missing')
    ],
                   expect_fail=True)
    assert '1 of 8 predictions are missing' in log
    run_tool([
        sys.executable, TOOL,
        str(preds), '--data-root',
        str(toy_root), '--split', 'test', '--missing-as-empty', '--out',
        str(tmp_path / 'empty')
    ])
    scores = json.loads((tmp_path / 'empty' / 'metrics.json').read_text())
    assert scores['mDice'] < 100.0
    # A prediction of another size is refused, naming the mask.
    mask = cv2.imread(
        str(toy_root / 'masks' / victim.name), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(victim), cv2.resize(mask, (7, 5)))
    log = run_tool([
        sys.executable, TOOL,
        str(preds), '--data-root',
        str(toy_root), '--split', 'test', '--out',
        str(tmp_path / 'size')
    ],
                   expect_fail=True)
    assert victim.name in log and 'shape' in log
