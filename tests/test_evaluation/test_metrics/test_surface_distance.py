# Copyright (c) OpenMMLab. All rights reserved.
import numpy as np
import pytest

from mmvlsm.evaluation.metrics.surface_distance import hd95_nsd, mask_border


def lines(x_pred, x_gt, size=(20, 16)):
    pred, gt = np.zeros(size, bool), np.zeros(size, bool)
    pred[:, x_pred] = True
    gt[:, x_gt] = True
    return pred, gt


def test_parallel_lines_are_their_distance_apart():
    pred, gt = lines(9, 5)
    assert hd95_nsd(pred, gt, tolerance=2) == (4.0, 0.0)
    assert hd95_nsd(pred, gt, tolerance=4) == (4.0, 1.0)
    # Columns 0.5 mm wide: 4 columns are 2 mm.
    assert hd95_nsd(pred, gt, spacing=(1.0, 0.5), tolerance=2) == (2.0, 1.0)


def test_identical_and_empty_masks():
    mask = np.zeros((10, 10), bool)
    mask[2:7, 3:8] = True
    assert hd95_nsd(mask, mask) == (0.0, 1.0)
    empty = np.zeros_like(mask)
    assert hd95_nsd(empty, empty) == (0.0, 1.0)
    diagonal = pytest.approx(np.hypot(10, 10))
    assert hd95_nsd(empty, mask) == (diagonal, 0.0)
    assert hd95_nsd(mask, empty) == (diagonal, 0.0)


def test_border_is_the_pixels_next_to_the_outside():
    mask = np.zeros((7, 7), bool)
    mask[1:6, 1:6] = True
    border = mask_border(mask)
    assert border.sum() == 16 and not border[2:5, 2:5].any()


def test_matches_brute_force_on_blobs():
    rng = np.random.default_rng(0)
    for _ in range(3):
        pred = rng.random((24, 24)) > 0.6
        gt = rng.random((24, 24)) > 0.6
        spacing = (1.0, 0.7)
        hd95, nsd = hd95_nsd(pred, gt, spacing, tolerance=1.5)
        points = [
            np.argwhere(mask_border(m)) * np.array(spacing)
            for m in (pred, gt)
        ]
        pairwise = np.linalg.norm(
            points[0][:, None] - points[1][None], axis=-1)
        forward, backward = pairwise.min(axis=1), pairwise.min(axis=0)
        expected = max(np.percentile(forward, 95),
                       np.percentile(backward, 95))
        assert hd95 == pytest.approx(expected)
        assert nsd == pytest.approx(
            ((forward <= 1.5).sum() + (backward <= 1.5).sum()) /
            (len(forward) + len(backward)))
