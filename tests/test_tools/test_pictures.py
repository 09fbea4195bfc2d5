# Copyright (c) OpenMMLab. All rights reserved.
"""tools/analysis_tools/overlay_grid.py and plot_curves.py draw real PNGs."""
import csv
import importlib.util
import json
import os.path as osp
import shutil
import sys

import cv2
import numpy as np
import pytest

from .conftest import REPO, run_tool

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO, 'tools', 'analysis_tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _test_records(toy_root):
    return json.loads((toy_root / 'anns' / 'test.json').read_text())


def test_overlay_grid_from_csv(toy_root, tmp_path):
    grid_tool = _tool('overlay_grid')
    records = _test_records(toy_root)
    preds = tmp_path / 'preds'
    preds.mkdir()
    # Predictions stored under other names, as the csv of tools/test.py
    # can say; their Dice is made up so that the order is known.
    dices = {}
    with open(preds / 'per_image_metrics.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(('mask_name', 'output_file', 'dataset_name',
                         'prompt_key', 'text', 'dice', 'iou'))
        for i, record in enumerate(records):
            name = f'sub/pred_{i}.png'
            (preds / 'sub').mkdir(exist_ok=True)
            shutil.copy(toy_root / 'masks' / record['mask_name'], preds / name)
            dices[record['mask_name']] = (i * 37) % 11 + 0.5
            writer.writerow(
                (record['mask_name'], name, 'toy', 'p3',
                 record['prompts']['p3'], dices[record['mask_name']], 0))
    rows = grid_tool.collect_rows(str(preds), str(toy_root), 'test', 'p2')
    assert [r['text'] for r in rows] == [r['prompts']['p3'] for r in records]
    by_dice = sorted(dices, key=dices.get)
    for sort, expected in (('worst', by_dice[:3]), ('best',
                                                    by_dice[::-1][:3])):
        chosen = grid_tool.select_rows(rows, 3, sort, seed=0)
        assert [r['mask_name'] for r in chosen] == expected
    random_rows = grid_tool.select_rows(rows, 3, 'random', seed=1)
    assert len({r['mask_name'] for r in random_rows}) == 3
    assert random_rows == grid_tool.select_rows(rows, 3, 'random', seed=1)

    out = tmp_path / 'grid' / 'worst.png'
    log = run_tool([
        sys.executable, 'tools/analysis_tools/overlay_grid.py',
        str(preds), '--data-root',
        str(toy_root), '--num', '3', '--sort', 'worst', '--size', '96',
        '--out',
        str(out)
    ])
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    grid = cv2.imread(str(out))
    assert grid.shape[:2] == grid_tool.grid_shape(3, 96)
    assert grid.shape[1] == 3 * 96 and grid.shape[0] > 3 * 96
    assert f'row 0: {by_dice[0]} Dice {dices[by_dice[0]]:.2f}' in log

    # A missing prediction is named.
    (preds / 'sub' / 'pred_0.png').unlink()
    log = run_tool([
        sys.executable, 'tools/analysis_tools/overlay_grid.py',
        str(preds), '--data-root',
        str(toy_root), '--sort', 'best', '--num', '8', '--out',
        str(tmp_path / 'x.png')
    ],
                   expect_fail=True)
    assert 'pred_0.png' in log and 'not found' in log


def test_overlay_grid_without_csv_computes_dice(toy_root, tmp_path):
    grid_tool = _tool('overlay_grid')
    records = _test_records(toy_root)
    preds = tmp_path / 'preds'
    preds.mkdir()
    perfect = set()
    for i, record in enumerate(records):
        gt = cv2.imread(
            str(toy_root / 'masks' / record['mask_name']),
            cv2.IMREAD_GRAYSCALE)
        stem = osp.splitext(record['mask_name'])[0]
        if i % 2 == 0:
            perfect.add(record['mask_name'])
        pred = gt if i % 2 == 0 else np.zeros_like(gt)
        cv2.imwrite(str(preds / f'{stem}.png'), pred)
    rows = grid_tool.collect_rows(str(preds), str(toy_root), 'test', 'p1')
    assert rows[0]['text'] == records[0]['prompts']['p1']
    best = grid_tool.select_rows(rows, 4, 'best', seed=0)
    assert {r['mask_name'] for r in best} == perfect
    assert all(r['dice'] == 100.0 for r in best)
    worst = grid_tool.select_rows(rows, 4, 'worst', seed=0)
    assert all(r['dice'] == 0.0 for r in worst)
    out = tmp_path / 'best.png'
    run_tool([
        sys.executable, 'tools/analysis_tools/overlay_grid.py',
        str(preds), '--data-root',
        str(toy_root), '--num', '2', '--sort', 'best', '--size', '64', '--out',
        str(out)
    ])
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    assert cv2.imread(str(out)).shape[:2] == grid_tool.grid_shape(2, 64)


def _write_scalars(run_dir, loss_scale):
    vis = run_dir / 'vis_data'
    vis.mkdir(parents=True)
    lines = []
    for step in (2, 4, 6, 8):
        lines.append(
            dict(
                lr=1e-4 * step,
                loss=loss_scale / step,
                loss_bce=0.5 / step,
                loss_dice=loss_scale / step - 0.5 / step,
                time=0.1,
                iter=step,
                step=step))
        if step % 4 == 0:
            lines.append(
                dict(mDice=10.0 * step, mIoU=5.0 * step, time=0.2, step=step))
    (vis / 'scalars.json').write_text('\n'.join(map(json.dumps, lines)) + '\n')


def test_plot_curves(tmp_path):
    curves = _tool('plot_curves')
    work = tmp_path / 'work'
    _write_scalars(work / '20250101_000000', 3.0)
    _write_scalars(work / '20250102_000000', 2.0)  # the latest run
    other = tmp_path / 'other'
    _write_scalars(other / '20250101_000000', 1.0)

    scalars = curves.find_scalars(str(work))
    assert '20250102_000000' in scalars
    train, val = curves.load_scalars(scalars)
    assert train['loss'] == ([2, 4, 6, 8], [1.0, 0.5, 2 / 6, 0.25])
    assert train['lr'][1] == pytest.approx([2e-4, 4e-4, 6e-4, 8e-4])
    assert val['mDice'] == ([4, 8], [40.0, 80.0])
    assert val['mIoU'] == ([4, 8], [20.0, 40.0])
    assert 'iter' not in train and 'step' not in val
    assert curves.choose_keys([(train, val)], None) == \
        [['loss', 'loss_bce', 'loss_dice'], ['mDice', 'mIoU']]
    assert curves.choose_keys([(train, val)], ['mIoU', 'lr', 'loss']) == \
        [['loss'], ['lr'], ['mIoU']]
    with pytest.raises(ValueError, match='nope'):
        curves.choose_keys([(train, val)], ['nope'])

    out = tmp_path / 'curves.png'
    log = run_tool([
        sys.executable, 'tools/analysis_tools/plot_curves.py',
        str(work),
        str(other), '--keys', 'loss', 'lr', 'mDice', '--out',
        str(out)
    ])
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    height, width = cv2.imread(str(out)).shape[:2]
    assert (width, height) == (3 * 5 * 120, int(3.5 * 120))
    assert '20250102_000000' in log
    log = run_tool([
        sys.executable, 'tools/analysis_tools/plot_curves.py',
        str(tmp_path / 'empty'), '--out',
        str(tmp_path / 'x.png')
    ],
                   expect_fail=True)
    assert 'No vis_data/scalars.json in' in log
