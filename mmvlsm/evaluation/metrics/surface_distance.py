# Copyright (c) OpenMMLab. All rights reserved.
"""Surface distances of binary masks: HD95 and normalised surface Dice.

Computed with SciPy's Euclidean distance transform. A mask's surface is its
border: the pixels of the mask with a 4-neighbour outside it
(``mask & ~binary_erosion(mask)``, as MONAI's ``get_mask_edges``); a mask
one pixel thick is all surface.
"""
from typing import Sequence, Tuple

import numpy as np
from scipy import ndimage


def mask_border(mask: np.ndarray) -> np.ndarray:
    """Border pixels (H, W) bool of a binary mask."""
    mask = mask.astype(bool)
    return mask & ~ndimage.binary_erosion(mask)


def directed_distances(source: np.ndarray, target: np.ndarray,
                       spacing: Sequence[float]) -> np.ndarray:
    """Distance from every border pixel of ``source`` to the nearest border
    pixel of ``target`` (both non-empty), in the units of ``spacing``."""
    to_target = ndimage.distance_transform_edt(
        ~mask_border(target), sampling=spacing)
    return to_target[mask_border(source)]


def hd95_nsd(pred: np.ndarray,
             gt: np.ndarray,
             spacing: Sequence[float] = (1.0, 1.0),
             tolerance: float = 2.0) -> Tuple[float, float]:
    """95th-percentile Hausdorff distance and normalised surface Dice.

    HD95 is the larger of the two directed 95th percentiles (MONAI's
    ``compute_hausdorff_distance(percentile=95)``); NSD is the share of
    both borders within ``tolerance`` of the other border (Nikolov et al.).
    Empty masks: both empty give HD95 0 and NSD 1 (a correct empty
    prediction); exactly one empty gives HD95 = the image diagonal (the
    largest distance the image allows, so the mean stays defined and the
    miss is penalised) and NSD 0.

    Args:
        pred (np.ndarray): Predicted mask (H, W), nonzero = object.
        gt (np.ndarray): Ground-truth mask (H, W).
        spacing (Sequence[float]): Pixel size (rows, columns); distances
            and ``tolerance`` are in its unit. Defaults to pixels.
        tolerance (float): NSD's tolerance. Defaults to 2.0.

    Returns:
        tuple[float, float]: HD95 and NSD (a fraction).
    """
    pred, gt = pred.astype(bool), gt.astype(bool)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {pred.shape} and ground truth '
                         f'{gt.shape} differ in shape')
    if not pred.any() and not gt.any():
        return 0.0, 1.0
    if not pred.any() or not gt.any():
        diagonal = float(
            np.hypot(pred.shape[0] * spacing[0], pred.shape[1] * spacing[1]))
        return diagonal, 0.0
    pred_to_gt = directed_distances(pred, gt, spacing)
    gt_to_pred = directed_distances(gt, pred, spacing)
    hd95 = max(np.percentile(pred_to_gt, 95), np.percentile(gt_to_pred, 95))
    within = (pred_to_gt <= tolerance).sum() + (gt_to_pred <= tolerance).sum()
    nsd = within / (len(pred_to_gt) + len(gt_to_pred))
    return float(hd95), float(nsd)
