# Copyright (c) OpenMMLab. All rights reserved.
"""tools/analysis_tools/evaluate_masks.py scores saved masks as
tools/test.py scores the model that wrote them."""
import csv
import importlib.util
import json
import os.path as osp
import shutil
import sys

import cv2
import numpy as np
import pytest
import SimpleITK as sitk

from .conftest import QUICKSTART_CONFIG, REPO, run_tool, tiny_run_options

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


# Volume mode. Volumes of 5 x 9 x 7 voxels (z, y, x) of 2.5 x 0.7 x 0.9 mm,
# rotated 90 degrees about z, written with SimpleITK (x, y, z order).
SPACING_XYZ = (0.9, 0.7, 2.5)
DIRECTION = (0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)
# Label 1: a box 2 slices x 3 rows x 4 columns (24 voxels); label 2 another.
LABELS = np.zeros((5, 9, 7), np.uint8)
LABELS[1:3, 1:4, 1:5] = 1
LABELS[2:4, 5:8, 2:6] = 2

spec = importlib.util.spec_from_file_location('evaluate_masks',
                                              osp.join(REPO, TOOL))
evaluate_masks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(evaluate_masks)


def write_volume(path, array, spacing=SPACING_XYZ, direction=DIRECTION):
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.SetSpacing(spacing)
    image.SetDirection(direction)
    image.SetOrigin((10.0, -5.0, 3.0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))
    return path


def shifted(array, label):
    """``array`` with ``label`` moved one slice (2.5 mm) along z. Both
    boxes are two slices thick, hence all border: half of each lies on the
    other, half 2.5 mm away, so Dice 2*12/48 = 50 %, HD95 2.5 mm and NSD
    50 % at 2 mm."""
    moved = np.where(array == label, 0, array)
    moved[np.roll(array == label, 1, axis=0)] = label
    return moved


def evaluate(tmp_path, *options):
    """Run the tool in this process; return its metrics and CSV rows."""
    out = tmp_path / 'scores'
    evaluate_masks.main([
        str(tmp_path / 'preds'), '--gt-dir',
        str(tmp_path / 'gt'), '--surface-metrics', '--out',
        str(out), *options
    ])
    with open(out / 'per_volume_metrics.csv') as f:
        rows = list(csv.DictReader(f))
    return json.loads((out / 'metrics.json').read_text()), rows


def refused(tmp_path, *options):
    """The message the tool stops with."""
    with pytest.raises(SystemExit) as exit_info:
        evaluate(tmp_path, *options)
    return str(exit_info.value.code)


def test_volumes_paired_by_name_and_scored_in_mm(tmp_path):
    binary = (LABELS == 1).astype(np.uint8) * 255
    write_volume(tmp_path / 'gt' / 'a' / 'case1.nii.gz', binary)
    write_volume(tmp_path / 'gt' / 'case2.mha', binary)
    # Another format for the same name; case2 one slice off.
    write_volume(tmp_path / 'preds' / 'a' / 'case1.nrrd', binary)
    write_volume(tmp_path / 'preds' / 'case2.nii.gz', shifted(binary, 255))
    metrics, rows = evaluate(tmp_path)
    assert [(r['volume'], r['label'], r['class'])
            for r in rows] == [('a/case1.nii.gz', 'nonzero', 'foreground'),
                               ('case2.mha', 'nonzero', 'foreground')]
    assert rows[0]['prediction'].endswith('case1.nrrd')
    perfect, moved = rows
    assert float(perfect['dice']) == 100.0 and float(perfect['hd95_mm']) == 0
    assert float(perfect['nsd_mm']) == 100.0
    assert float(moved['dice']) == pytest.approx(50.0)
    assert float(moved['hd95_mm']) == pytest.approx(2.5)
    assert float(moved['nsd_mm']) == pytest.approx(50.0)
    assert metrics['mDice'] == pytest.approx(75.0)
    assert metrics['mHD95_mm'] == pytest.approx(1.25)
    # NSD's tolerance is in mm.
    metrics, _ = evaluate(tmp_path, '--nsd-tolerance', '2.5')
    assert metrics['mNSD_mm'] == pytest.approx(100.0)


def test_label_maps_give_a_row_per_class(tmp_path):
    write_volume(tmp_path / 'gt' / 'ct.nii.gz', LABELS)
    write_volume(tmp_path / 'preds' / 'ct.nii.gz', shifted(LABELS, 2))
    metrics, rows = evaluate(tmp_path, '--labels', '1', '2')
    assert [(r['label'], r['class']) for r in rows] == [('1', 'label_1'),
                                                        ('2', 'label_2')]
    assert [float(r['dice']) for r in rows] == pytest.approx([100.0, 50.0])
    assert metrics['label_1/mDice'] == 100.0
    assert metrics['label_2/mDice'] == pytest.approx(50.0)
    assert metrics['label_2/mHD95_mm'] == pytest.approx(2.5)
    assert metrics['mDice'] == pytest.approx(75.0)
    legend = tmp_path / 'preds' / 'legend.json'
    legend.write_text(
        json.dumps({
            '0': 'background',
            '1': 'liver',
            '2': 'spleen'
        }))
    metrics, rows = evaluate(tmp_path, '--legend', str(legend))
    assert [r['class'] for r in rows] == ['liver', 'spleen']
    assert metrics['spleen/mDice'] == pytest.approx(50.0)


@pytest.mark.parametrize('spacing,direction,size,difference', [
    ((0.9, 0.7, 3.0), DIRECTION, (5, 9, 7), 'spacing'),
    (SPACING_XYZ, (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
     (5, 9, 7), 'direction'),
    (SPACING_XYZ, DIRECTION, (5, 9, 6), 'size'),
])
def test_prediction_off_the_ground_truth_geometry(tmp_path, spacing, direction,
                                                  size, difference):
    gt = write_volume(tmp_path / 'gt' / 'ct.nii.gz', LABELS != 0)
    pred = write_volume(tmp_path / 'preds' / 'ct.nrrd',
                        np.zeros(size, np.uint8), spacing, direction)
    message = refused(tmp_path)
    assert str(gt) in message and str(pred) in message
    assert difference in message


def test_unexpected_values_and_missing_predictions(tmp_path):
    write_volume(tmp_path / 'gt' / 'ct.nii.gz', LABELS)
    write_volume(tmp_path / 'gt' / 'sub' / 'mr.mha', LABELS)
    pred = LABELS.copy()
    pred[0, 0, 0] = 7
    pred_file = write_volume(tmp_path / 'preds' / 'ct.nii.gz', pred)
    message = refused(tmp_path, '--labels', '1', '2')
    assert 'sub/mr' in message and '1 of 2' in message
    message = refused(tmp_path, '--labels', '1', '2', '--missing-as-empty')
    assert str(pred_file) in message and '[7]' in message
    # Without --labels, a label map is not a binary mask.
    message = refused(tmp_path, '--missing-as-empty')
    assert 'ct.nii.gz' in message and '--labels' in message
    write_volume(tmp_path / 'preds' / 'ct.nii.gz', LABELS)
    metrics, rows = evaluate(tmp_path, '--labels', '1', '2',
                             '--missing-as-empty')
    assert [(r['volume'], float(r['dice']))
            for r in rows] == [('ct.nii.gz', 100.0), ('ct.nii.gz', 100.0),
                               ('sub/mr.mha', 0.0), ('sub/mr.mha', 0.0)]
    assert rows[2]['prediction'] == '(missing: empty)'
    # Run as a command, a refusal is a message and exit status 1.
    log = run_tool([
        sys.executable, TOOL,
        str(tmp_path / 'preds'), '--gt-dir',
        str(tmp_path / 'gt'), '--labels', '1', '--out',
        str(tmp_path / 'cli')
    ],
                   expect_fail=True)
    assert 'evaluate_masks.py: error: 1 of 2' in log
    assert 'Traceback' not in log
