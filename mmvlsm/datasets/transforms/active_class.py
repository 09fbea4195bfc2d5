# Copyright (c) OpenMMLab. All rights reserved.
"""The active class of a sample: drawn for training, then the target.

PUNet prompts its network with one class per sample (phase 1 draws it
uniformly from the base classes for every sample) and trains it on that
class against everything else, inactive organs included.
"""
import numpy as np
from mmcv.transforms import BaseTransform

from mmvlsm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomActiveClass(BaseTransform):
    """Draw ``active_class`` uniformly from ``candidate_classes``.

    Samples that already have an ``active_class`` (the evaluation infos of
    :class:`MultiClassSliceDataset` or :class:`MultiClassVolumeDataset`
    with ``expand_classes=True``) keep it.
    The draw uses numpy's global random state, which mmengine seeds in
    every dataloader worker.

    Required Keys:

    - candidate_classes (list[int]), unless ``active_class`` is set

    Added Keys:

    - active_class (int)
    """

    def transform(self, results: dict) -> dict:
        """Set ``results['active_class']`` if it is missing.

        Args:
            results (dict): The pipeline's results.

        Returns:
            dict: ``results`` with ``active_class``.

        Raises:
            KeyError: If neither ``active_class`` nor ``candidate_classes``
                is in ``results``.
            ValueError: If ``candidate_classes`` is empty.
        """
        if 'active_class' in results:
            return results
        if 'candidate_classes' not in results:
            raise KeyError(
                'RandomActiveClass needs candidate_classes (or '
                f"active_class) in the data info of {results.get('img_path')}"
                '; use a dataset that sets them, e.g. MultiClassSliceDataset')
        candidates = results['candidate_classes']
        if len(candidates) == 0:
            raise ValueError('candidate_classes of '
                             f"{results.get('img_path')} is empty")
        results['active_class'] = int(candidates[np.random.randint(
            len(candidates))])
        return results


@TRANSFORMS.register_module()
class BinarizeActiveClass(BaseTransform):
    """Turn the label map into the binary target of ``active_class``.

    ``gt_seg_map`` (a label map, as mmseg's ``LoadAnnotations`` or
    :class:`LoadVolumeAnnotations` loads it) becomes 1 where it equals
    ``active_class`` and 0 elsewhere, so inactive classes merge into
    background. Put it after the label map is loaded and before any
    transform that pads or rotates it with an ignore value.

    Required Keys:

    - gt_seg_map (np.ndarray): class indices of shape (H, W) or (H, W, D)
    - active_class (int)

    Modified Keys:

    - gt_seg_map (np.ndarray): uint8 of the same shape, values {0, 1}
    """

    def transform(self, results: dict) -> dict:
        """Binarise ``results['gt_seg_map']``.

        Args:
            results (dict): The pipeline's results.

        Returns:
            dict: ``results`` with the binary ``gt_seg_map``; the other
            keys, ``active_class`` included, are kept.

        Raises:
            KeyError: If ``gt_seg_map`` or ``active_class`` is missing.
        """
        for key, hint in (('gt_seg_map', 'load the label map first, e.g. '
                           "with dict(type='LoadAnnotations')"),
                          ('active_class', 'set it with RandomActiveClass or '
                           'MultiClassSliceDataset(expand_classes=True)')):
            if key not in results:
                raise KeyError(f'BinarizeActiveClass needs {key} for '
                               f"{results.get('img_path')}: {hint}")
        results['gt_seg_map'] = (
            results['gt_seg_map'] == results['active_class']).astype(np.uint8)
        return results
