# Copyright (c) OpenMMLab. All rights reserved.
"""Surface distances of binary masks: HD95 and normalised surface Dice.

Computed with SciPy's Euclidean distance transform, for images (H, W) and
volumes (D, H, W) alike, with a size per axis (anisotropic voxels). A
mask's surface is its border: the elements of the mask with a face
neighbour outside it (4-neighbours in 2D, 6 in 3D:
``mask & ~binary_erosion(mask)``, as MONAI's ``get_mask_edges``); a mask one
element thick is all surface.
"""
from typing import Optional, Sequence, Tuple

import numpy as np
from scipy import ndimage


def mask_border(mask: np.ndarray) -> np.ndarray:
    """Border elements of a binary mask.

    Args:
        mask (np.ndarray): (H, W) or (D, H, W), nonzero = object.

    Returns:
        np.ndarray: bool of the same shape.
    """
    mask = mask.astype(bool)
    return mask & ~ndimage.binary_erosion(mask)


def directed_distances(source: np.ndarray, target: np.ndarray,
                       spacing: Sequence[float]) -> np.ndarray:
    """Distance from every border element of ``source`` to the nearest
    border element of ``target``.

    Args:
        source (np.ndarray): (H, W) or (D, H, W) mask, not empty.
        target (np.ndarray): A mask of the same shape, not empty.
        spacing (Sequence[float]): Element size per axis.

    Returns:
        np.ndarray: (N, ) distances in the units of ``spacing``, one per
        border element of ``source``.
    """
    to_target = ndimage.distance_transform_edt(
        ~mask_border(target), sampling=spacing)
    return to_target[mask_border(source)]


def hd95_nsd(pred: np.ndarray,
             gt: np.ndarray,
             spacing: Optional[Sequence[float]] = None,
             tolerance: float = 2.0) -> Tuple[float, float]:
    """95th-percentile Hausdorff distance and normalised surface Dice.

    HD95 is the larger of the two directed 95th percentiles (MONAI's
    ``compute_hausdorff_distance(percentile=95)``); NSD is the share of
    both borders within ``tolerance`` of the other border (Nikolov et al.;
    MONAI's ``compute_surface_dice``). Empty masks: both empty give HD95 0
    and NSD 1 (a correct empty prediction); exactly one empty gives HD95 =
    the diagonal of the image or volume (the largest distance it allows, so
    the mean stays defined and the miss is penalised) and NSD 0.

    Args:
        pred (np.ndarray): Predicted mask (H, W) or (D, H, W), nonzero =
            object.
        gt (np.ndarray): Ground-truth mask of the same shape.
        spacing (Sequence[float], optional): Element size per axis, in the
            order of the array's axes ((rows, columns) or (slices, rows,
            columns)); distances and ``tolerance`` are in its unit.
            Defaults to None: 1 per axis (pixels or voxels).
        tolerance (float): NSD's tolerance. Defaults to 2.0.

    Returns:
        tuple[float, float]: HD95 and NSD (a fraction).

    Raises:
        ValueError: If the shapes differ or ``spacing`` does not have one
            value per axis.
    """
    pred, gt = pred.astype(bool), gt.astype(bool)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {pred.shape} and ground truth '
                         f'{gt.shape} differ in shape')
    spacing = (1.0, ) * pred.ndim if spacing is None else tuple(spacing)
    if len(spacing) != pred.ndim:
        raise ValueError(f'spacing {spacing} does not have one value per '
                         f'axis of the {pred.ndim}D masks {pred.shape}')
    if not pred.any() and not gt.any():
        return 0.0, 1.0
    if not pred.any() or not gt.any():
        return float(np.linalg.norm(np.multiply(pred.shape, spacing))), 0.0
    pred_to_gt = directed_distances(pred, gt, spacing)
    gt_to_pred = directed_distances(gt, pred, spacing)
    hd95 = max(np.percentile(pred_to_gt, 95), np.percentile(gt_to_pred, 95))
    within = (pred_to_gt <= tolerance).sum() + (gt_to_pred <= tolerance).sum()
    nsd = within / (len(pred_to_gt) + len(gt_to_pred))
    return float(hd95), float(nsd)
