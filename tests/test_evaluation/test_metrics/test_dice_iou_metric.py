# Copyright (c) OpenMMLab. All rights reserved.
import csv
import logging
import math
from unittest.mock import patch

import cv2
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmvlsm.evaluation import DiceIoUMetric
from mmvlsm.registry import METRICS

PRINT_LOG = 'mmvlsm.evaluation.metrics.dice_iou_metric.print_log'
SHAPE = (4, 5)


def _mask(*pixels):
    """A 4x5 uint8 mask with the given (row, col) pixels set to 1."""
    mask = np.zeros(SHAPE, dtype=np.uint8)
    for row, col in pixels:
        mask[row, col] = 1
    return mask


# A: GT = rows 0-1 x cols 0-2 (6 px); prediction = row 0 x cols 0-2 (3 px,
#    all inside the GT) + (3, 4) (outside): |P| = 4, |G| = 6, |P∩G| = 3.
#    Dice = 2*3 / (4+6) = 0.6, IoU = 3 / (4+6-3) = 3/7.
GT_A = _mask(*[(r, c) for r in range(2) for c in range(3)])
PRED_A = _mask((0, 0), (0, 1), (0, 2), (3, 4))
# B: GT and prediction empty: Dice = IoU = 1.
EMPTY = _mask()
# C: empty GT, one predicted pixel: Dice = IoU = 0.
PRED_C = _mask((2, 2))
# D: GT = row 3 (5 px), empty prediction: Dice = IoU = 0.
GT_D = _mask(*[(3, c) for c in range(5)])


def _sample(pred,
            gt,
            mask_name='a.png',
            dataset_name='kvasir_polyp',
            text='a pink polyp',
            prompt_key='p1'):
    """A model output as the runner hands it to the evaluator."""
    sample = SegDataSample(
        metainfo=dict(
            img_path=f'/data/images/{mask_name}',
            mask_name=mask_name,
            dataset_name=dataset_name,
            text=text,
            prompt_key=prompt_key,
            ori_shape=gt.shape))
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None].long())
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None].long())
    return sample


def _evaluate(samples, **kwargs):
    """Run the samples through mmengine's Evaluator, which calls
    ``to_dict()`` on them like the test loop does."""
    evaluator = Evaluator(DiceIoUMetric(**kwargs))
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


@pytest.mark.parametrize('pred,gt,dice,iou', [
    (PRED_A, GT_A, 60.0, 300 / 7),
    (EMPTY, EMPTY, 100.0, 100.0),
    (PRED_C, EMPTY, 0.0, 0.0),
    (EMPTY, GT_D, 0.0, 0.0),
    (GT_A, GT_A, 100.0, 100.0),
])
def test_single_image(pred, gt, dice, iou):
    metrics = _evaluate([_sample(pred, gt)])
    assert set(metrics) == {
        'mDice', 'mDice_std', 'mIoU', 'mIoU_std', 'gDice', 'gIoU'
    }
    assert metrics['mDice'] == pytest.approx(dice)
    assert metrics['mIoU'] == pytest.approx(iou)
    # One image: pooled equals per-image, no spread.
    assert metrics['gDice'] == pytest.approx(dice)
    assert metrics['gIoU'] == pytest.approx(iou)
    assert metrics['mDice_std'] == metrics['mIoU_std'] == 0.0


def test_mean_std_and_global_over_two_images():
    metrics = _evaluate(
        [_sample(PRED_A, GT_A, 'a.png'),
         _sample(EMPTY, GT_D, 'd.png')])
    # Per image: Dice 60 and 0 -> mean 30, population std 30 (ddof=1 would
    # give 42.43); IoU 300/7 and 0 -> mean = std = 150/7.
    assert metrics['mDice'] == pytest.approx(30.0)
    assert metrics['mDice_std'] == pytest.approx(30.0)
    assert metrics['mIoU'] == pytest.approx(150 / 7)
    assert metrics['mIoU_std'] == pytest.approx(150 / 7)
    # Pooled: I = 3, P = 4 + 0, G = 6 + 5 -> Dice = 6/15, IoU = 3/12.
    assert metrics['gDice'] == pytest.approx(40.0)
    assert metrics['gIoU'] == pytest.approx(25.0)


def test_std_over_three_images():
    metrics = _evaluate([
        _sample(PRED_A, GT_A, 'a.png'),
        _sample(EMPTY, EMPTY, 'b.png'),
        _sample(PRED_C, EMPTY, 'c.png')
    ])
    # Dice 60, 100, 0: mean 160/3; deviations 20/3, 140/3, -160/3;
    # variance (400 + 19600 + 25600) / 9 / 3 = 15200/9.
    assert metrics['mDice'] == pytest.approx(160 / 3)
    assert metrics['mDice_std'] == pytest.approx(math.sqrt(15200) / 3)
    # Pooled: I = 3, P = 4 + 0 + 1, G = 6 -> Dice = 6/11, IoU = 3/8.
    assert metrics['gDice'] == pytest.approx(600 / 11)
    assert metrics['gIoU'] == pytest.approx(37.5)


def test_nonbinary_labels_count_as_object():
    metrics = _evaluate([_sample(PRED_A * 255, GT_A)])
    assert metrics['mDice'] == pytest.approx(60.0)


def test_per_dataset_keys_and_table():
    samples = [
        _sample(PRED_A, GT_A, 'a.png', dataset_name='kvasir_polyp'),
        _sample(EMPTY, GT_D, 'd.png', dataset_name='kvasir_polyp'),
        _sample(EMPTY, EMPTY, 'b.png', dataset_name='busi'),
    ]
    with patch(PRINT_LOG) as print_log:
        metrics = _evaluate(samples)
    assert metrics['mDice'] == pytest.approx(160 / 3)
    assert metrics['kvasir_polyp/mDice'] == pytest.approx(30.0)
    assert metrics['kvasir_polyp/mDice_std'] == pytest.approx(30.0)
    assert metrics['kvasir_polyp/gDice'] == pytest.approx(40.0)
    assert metrics['kvasir_polyp/gIoU'] == pytest.approx(25.0)
    assert metrics['busi/mDice'] == metrics['busi/gDice'] == 100.0
    assert metrics['busi/mIoU_std'] == 0.0
    assert len(metrics) == 6 * 3
    table = print_log.call_args_list[0].args[0]
    assert 'kvasir_polyp' in table and 'busi' in table and '40.00' in table


def test_no_per_dataset_keys_for_one_dataset():
    metrics = _evaluate([_sample(PRED_A, GT_A), _sample(EMPTY, GT_D, 'd')])
    assert not any('/' in key for key in metrics)


def test_prefix_and_registry():
    metric = METRICS.build(dict(type='DiceIoUMetric', prefix='val'))
    assert isinstance(metric, DiceIoUMetric)
    metric.process({}, [_sample(PRED_A, GT_A).to_dict()])
    assert metric.evaluate(1)['val/mDice'] == pytest.approx(60.0)


def test_masks_and_csv_written(tmp_path):
    out_dir = tmp_path / 'out'
    pred_sub = np.zeros((3, 7), dtype=np.uint8)
    pred_sub[1, 2:5] = 1
    samples = [
        # Different sizes, a sub-folder, and a .jpg mask name; two datasets,
        # so each gets a folder.
        _sample(pred_sub, pred_sub, 'mask_1/p1_2CH_ED_gt.png', 'camus',
                'left ventricle'),
        _sample(PRED_A, GT_A, 'cju0qkwl35piu0993l0dewei2.jpg', 'kvasir_polyp',
                'one pink, round polyp'),
    ]
    _evaluate(samples, output_dir=str(out_dir))

    saved = cv2.imread(
        str(out_dir / 'camus' / 'mask_1' / 'p1_2CH_ED_gt.png'),
        cv2.IMREAD_UNCHANGED)
    assert saved.dtype == np.uint8 and saved.shape == (3, 7)
    np.testing.assert_array_equal(saved, pred_sub * 255)
    saved = cv2.imread(
        str(out_dir / 'kvasir_polyp' / 'cju0qkwl35piu0993l0dewei2.png'),
        cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(saved, PRED_A * 255)
    assert not list(out_dir.rglob('*.jpg'))
    assert not (out_dir / '.partial').exists()

    with open(out_dir / 'per_image_metrics.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [row['mask_name'] for row in rows
            ] == ['mask_1/p1_2CH_ED_gt.png', 'cju0qkwl35piu0993l0dewei2.jpg']
    assert [row['output_file'] for row in rows] == [
        'camus/mask_1/p1_2CH_ED_gt.png',
        'kvasir_polyp/cju0qkwl35piu0993l0dewei2.png'
    ]
    assert rows[1]['dataset_name'] == 'kvasir_polyp'
    # The prompt has a comma: the csv module must quote it.
    assert rows[1]['text'] == 'one pink, round polyp'
    assert float(rows[0]['dice']) == float(rows[0]['iou']) == 100.0
    assert float(rows[1]['dice']) == pytest.approx(60.0)
    assert float(rows[1]['iou']) == pytest.approx(300 / 7, abs=1e-4)


def _csv_rows(out_dir):
    with open(out_dir / 'per_image_metrics.csv', newline='') as f:
        return list(csv.DictReader(f))


def test_shared_mask_names_do_not_overwrite(tmp_path):
    samples = [
        # The same mask under two prompts: the prompt key tells them apart.
        _sample(PRED_A, GT_A, 'a.png', prompt_key='p1', text='polyp'),
        _sample(PRED_C, GT_A, 'a.png', prompt_key='p2', text='pink polyp'),
        # The same base name in two sub-folders: the folders tell them apart.
        _sample(PRED_A, GT_A, 'mask_1/x.png'),
        _sample(EMPTY, GT_A, 'mask_2/x.png'),
        # Same key, other text (and another extension): numbered.
        _sample(PRED_A, GT_A, 'b.jpg', text='one'),
        _sample(EMPTY, GT_A, 'b.png', text='two'),
    ]
    _evaluate(samples, output_dir=str(tmp_path))
    names = [row['output_file'] for row in _csv_rows(tmp_path)]
    assert names == [
        'a_p1.png', 'a_p2.png', 'mask_1/x.png', 'mask_2/x.png', 'b_1.png',
        'b_2.png'
    ]
    expected = [PRED_A, PRED_C, PRED_A, EMPTY, PRED_A, EMPTY]
    for name, pred in zip(names, expected):
        saved = cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(saved, pred * 255)


def test_escaping_mask_names_stay_inside_output_dir(tmp_path):
    gt_dir = tmp_path / 'data' / 'masks'
    gt_dir.mkdir(parents=True)
    cv2.imwrite(str(gt_dir / 'gt.png'), GT_A * 255)
    out_dir = tmp_path / 'data' / 'out'
    samples = [
        _sample(PRED_C, GT_A, str(gt_dir / 'gt.png')),
        _sample(PRED_A, GT_A, '../masks/gt.png', 'kvasir_polyp', 'two'),
        _sample(EMPTY, GT_A, 'sub/../c.png'),
    ]
    with patch(PRINT_LOG) as print_log:
        _evaluate(samples, output_dir=str(out_dir))
    # The ground truth is untouched and nothing was written next to it.
    np.testing.assert_array_equal(
        cv2.imread(str(gt_dir / 'gt.png'), cv2.IMREAD_UNCHANGED), GT_A * 255)
    assert sorted(p.name for p in gt_dir.iterdir()) == ['gt.png']
    rows = _csv_rows(out_dir)
    absolute = '_outside/' + str(gt_dir / 'gt.png').lstrip('/')
    assert [row['output_file']
            for row in rows] == [absolute, '_outside/masks/gt.png', 'c.png']
    assert rows[0]['mask_name'] == str(gt_dir / 'gt.png')
    for row, pred in zip(rows, (PRED_C, PRED_A, EMPTY)):
        saved = cv2.imread(
            str(out_dir / row['output_file']), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(saved, pred * 255)
    warnings = ' '.join(
        str(call.args[0]) for call in print_log.call_args_list
        if call.kwargs.get('level') == logging.WARNING)
    assert '../masks/gt.png' in warnings and 'output_file' in warnings


def test_no_masks_written_without_output_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _evaluate([_sample(PRED_A, GT_A)])
    assert list(tmp_path.iterdir()) == []


def test_shape_mismatch_names_the_mask():
    metric = DiceIoUMetric()
    sample = _sample(PRED_A, GT_A, 'mask_1/p1_2CH_ED_gt.png').to_dict()
    sample['gt_sem_seg']['data'] = torch.zeros(1, 4, 6, dtype=torch.long)
    with pytest.raises(
            ValueError, match=r'mask_1/p1_2CH_ED_gt\.png.*'
            r'\(4, 5\).*\(4, 6\)'):
        metric.process({}, [sample])


def test_surface_metrics_per_image_and_in_the_csv(tmp_path):
    # Column 1 vs column 3 of the GT: every border pixel 2 px away (HD95 2,
    # NSD 100 % at 2 px), 1 mm with 0.5 mm columns; both empty: 0 and 100.
    gt = _mask(*[(r, 1) for r in range(4)])
    pred = _mask(*[(r, 3) for r in range(4)])
    samples = [_sample(pred, gt, 'a.png'), _sample(EMPTY, EMPTY, 'b.png')]
    with patch(PRINT_LOG) as log:
        metrics = _evaluate(
            samples,
            surface_metrics=True,
            pixel_spacing=(1.0, 0.5),
            output_dir=str(tmp_path))
    assert metrics['mHD95'] == pytest.approx(1.0)  # (2 + 0) / 2
    assert metrics['mHD95_std'] == pytest.approx(1.0)
    assert metrics['mHD95_mm'] == pytest.approx(0.5)
    assert metrics['mNSD'] == pytest.approx(100.0)
    assert 'mHD95' in log.call_args_list[0][0][0]
    rows = _csv_rows(tmp_path)
    assert rows[0]['hd95'] == '2.0000' and rows[0]['hd95_mm'] == '1.0000'
    assert rows[1]['nsd'] == '100.0000'
    with pytest.raises(ValueError, match='surface_metrics only'):
        DiceIoUMetric(pixel_spacing=(1.0, 1.0))


# Volumes (D, H, W): a GT box of 2 x 3 x 4 voxels and the box one slice
# further. Both are two slices thick, hence all border: half of each lies
# on the other (distance 0), half one slice (2.5 mm) away. Dice 2*12/48.
SPACING_3D = (2.5, 0.7, 0.9)
GT_VOLUME = np.zeros((5, 6, 7), np.uint8)
GT_VOLUME[1:3, 1:4, 2:6] = 1
PRED_VOLUME = np.roll(GT_VOLUME, 1, axis=0)


def _volume_sample(pred, gt, mask_name, **metainfo):
    """A volume sample as a dict (``PixelData`` holds 2D data only)."""
    return dict(
        pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
        gt_sem_seg=dict(data=torch.from_numpy(gt)[None]),
        mask_name=mask_name,
        dataset_name='ct',
        **metainfo)


def test_volumes_with_their_spacing_in_mm():
    samples = [
        _volume_sample(PRED_VOLUME, GT_VOLUME, 'a.nii.gz', spacing=SPACING_3D),
        _volume_sample(GT_VOLUME, GT_VOLUME, 'b.nii.gz', spacing=SPACING_3D)
    ]
    # The samples' spacing overrides pixel_spacing.
    metrics = _evaluate(
        samples,
        surface_metrics=True,
        nsd_tolerance_mm=2.0,
        pixel_spacing=(1.0, 1.0, 1.0))
    assert metrics['mDice'] == pytest.approx(75.0)  # (50 + 100) / 2
    assert metrics['gDice'] == pytest.approx(75.0)
    # In voxels: 1 slice, all within 2 voxels; in mm: 2.5, half within 2.
    assert metrics['mHD95'] == pytest.approx(0.5)
    assert metrics['mNSD'] == pytest.approx(100.0)
    assert metrics['mHD95_mm'] == pytest.approx(1.25)
    assert metrics['mHD95_mm_std'] == pytest.approx(1.25)
    assert metrics['mNSD_mm'] == pytest.approx(75.0)
    metrics = _evaluate(
        samples[:1], surface_metrics=True, nsd_tolerance_mm=2.5)
    assert metrics['mNSD_mm'] == pytest.approx(100.0)


def test_volume_spacing_and_output_checks(tmp_path):
    with pytest.raises(ValueError, match=r'a\.nii\.gz: spacing.*3 axes'):
        _evaluate([_volume_sample(PRED_VOLUME, GT_VOLUME, 'a.nii.gz')],
                  surface_metrics=True,
                  pixel_spacing=(1.0, 1.0))
    with pytest.raises(ValueError, match=r'1 of 2 samples.*b\.nii\.gz'):
        _evaluate([
            _volume_sample(
                PRED_VOLUME, GT_VOLUME, 'a.nii.gz', spacing=SPACING_3D),
            _volume_sample(PRED_VOLUME, GT_VOLUME, 'b.nii.gz')
        ],
                  surface_metrics=True)
    with pytest.raises(ValueError, match=r'a\.nii\.gz is a volume.*PNG'):
        _evaluate([_volume_sample(PRED_VOLUME, GT_VOLUME, 'a.nii.gz')],
                  output_dir=str(tmp_path / 'out'))
    assert not list(tmp_path.rglob('*.png'))
