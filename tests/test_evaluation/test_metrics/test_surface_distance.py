# Copyright (c) OpenMMLab. All rights reserved.
import numpy as np
import pytest
import torch
# MONAI is the reference implementation of the surface metrics.
from monai.metrics import compute_hausdorff_distance, compute_surface_dice

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
            np.argwhere(mask_border(m)) * np.array(spacing) for m in (pred, gt)
        ]
        pairwise = np.linalg.norm(
            points[0][:, None] - points[1][None], axis=-1)
        forward, backward = pairwise.min(axis=1), pairwise.min(axis=0)
        expected = max(np.percentile(forward, 95), np.percentile(backward, 95))
        assert hd95 == pytest.approx(expected)
        assert nsd == pytest.approx(
            ((forward <= 1.5).sum() +
             (backward <= 1.5).sum()) / (len(forward) + len(backward)))


# Anisotropic voxels (slices, rows, columns), in mm.
SPACING_3D = (2.5, 0.7, 0.9)


def ellipsoid(shape, centre, radii_mm, spacing=SPACING_3D):
    """A (D, H, W) bool ellipsoid with radii in mm."""
    grid = np.indices(shape).astype(float)
    return sum(((g - c) * s / r)**2
               for g, c, s, r in zip(grid, centre, spacing, radii_mm)) <= 1


def box(shape, start, stop):
    mask = np.zeros(shape, bool)
    mask[tuple(slice(a, b) for a, b in zip(start, stop))] = True
    return mask


def monai_hd95_nsd(pred, gt, spacing, tolerance):
    """MONAI's HD95 and NSD of one binary pair (one channel, background
    included so that the channel is scored)."""
    pred_t = torch.from_numpy(pred)[None, None].float()
    gt_t = torch.from_numpy(gt)[None, None].float()
    hd95 = compute_hausdorff_distance(
        pred_t, gt_t, include_background=True, percentile=95, spacing=spacing)
    nsd = compute_surface_dice(
        pred_t,
        gt_t,
        class_thresholds=[tolerance],
        include_background=True,
        spacing=spacing)
    return float(hd95), float(nsd)


# Offset shapes: two ellipsoids, two boxes (one at the far faces of its
# volume, where the outside counts as background), an ellipsoid and a box,
# and 2D blobs.
BALL = ellipsoid((9, 21, 19), (4, 10, 9), (8, 5, 6))
EGG = ellipsoid((9, 21, 19), (5, 12, 8), (7, 6, 4))
SLAB = box((9, 21, 19), (3, 6, 2), (5, 9, 17))
BOX = box((7, 15, 13), (1, 2, 3), (5, 10, 9))
CORNER_BOX = box((7, 15, 13), (2, 4, 2), (7, 15, 8))
BLOBS_2D = np.random.default_rng(1).random((24, 20)) > 0.6
RECTANGLE_2D = box((24, 20), (3, 4), (15, 18))


@pytest.mark.filterwarnings('ignore::FutureWarning')  # inside MONAI 1.6
@pytest.mark.parametrize('pred,gt,spacing', [
    (BALL, EGG, SPACING_3D),
    (BOX, CORNER_BOX, SPACING_3D),
    (BALL, SLAB, SPACING_3D),
    (BLOBS_2D, RECTANGLE_2D, (1.0, 0.7)),
])
@pytest.mark.parametrize('tolerance', [1.0, 2.5])
def test_matches_monai_with_anisotropic_spacing(pred, gt, spacing, tolerance):
    hd95, nsd = hd95_nsd(pred, gt, spacing, tolerance)
    expected_hd95, expected_nsd = monai_hd95_nsd(pred, gt, spacing, tolerance)
    assert hd95 > 0 and 0 < nsd < 1
    assert hd95 == pytest.approx(expected_hd95, abs=1e-6)
    assert nsd == pytest.approx(expected_nsd, abs=1e-6)


def test_3d_border_has_six_neighbours():
    mask = box((5, 5, 5), (1, 1, 1), (4, 4, 4))
    # A 3x3x3 cube: all but its centre voxel touch the outside by a face.
    assert mask_border(mask).sum() == 26 and not mask_border(mask)[2, 2, 2]


def test_3d_empty_masks_and_spacing_checks():
    mask = box((4, 6, 8), (1, 1, 1), (3, 4, 5))
    empty = np.zeros_like(mask)
    assert hd95_nsd(empty, empty, SPACING_3D) == (0.0, 1.0)
    # One empty: the diagonal of the volume in mm.
    diagonal = pytest.approx(np.sqrt(10.0**2 + 4.2**2 + 7.2**2))
    assert hd95_nsd(empty, mask, SPACING_3D) == (diagonal, 0.0)
    assert hd95_nsd(mask, empty, SPACING_3D) == (diagonal, 0.0)
    # Voxels by default: the diagonal of a 4 x 6 x 8 grid.
    assert hd95_nsd(mask, empty)[0] == pytest.approx(np.sqrt(116))
    with pytest.raises(ValueError, match='one value per axis'):
        hd95_nsd(mask, mask, (1.0, 1.0))
