# Copyright (c) OpenMMLab. All rights reserved.
"""Image and mask loaders that fail with the path of the offending file."""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile

from mmvlsm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadCheckedImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` whose errors name the image path.

    mmcv fails on a missing file with the backend's error and on a corrupt
    one with a bare assertion; this loader raises ``FileNotFoundError`` or
    ``ValueError`` naming the image instead. The arguments and the keys
    written (``img``, ``img_shape``, ``ori_shape``) are those of
    :class:`mmcv.transforms.LoadImageFromFile`. With ``ignore_empty=True``
    both failures return None.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']``.

        Args:
            results (dict): Holds ``img_path`` (str).

        Returns:
            dict | None: ``results`` with ``img`` (np.ndarray of shape
            (H, W, 3), BGR, for the default ``color_type``), ``img_shape``
            and ``ori_shape`` ((H, W)), or None for a bad file when
            ``ignore_empty`` is True.
        """
        filename = results['img_path']
        try:
            return super().transform(results)
        except FileNotFoundError as err:
            raise FileNotFoundError(f'Image file not found: {filename}') \
                from err
        except Exception as err:
            # cv2 raises for an empty file and returns None for other
            # undecodable bytes, which mmcv asserts against even when
            # `ignore_empty` is set.
            if self.ignore_empty:
                return None
            raise ValueError(f'Cannot decode image {filename}: the file is '
                             f'corrupt or not an image ({err})') from err


@TRANSFORMS.register_module()
class LoadBinaryMask(BaseTransform):
    """Load a binary mask and binarise it to {0, 1}.

    The mask is read as grayscale. Pixels above 127 are foreground when the
    mask's maximum exceeds 1 (0/255 PNGs and lossy JPEG masks, whose
    values spread around 0 and 255), otherwise pixels above 0 (0/1 PNGs).
    An all-zero mask is valid.

    Required Keys:

    - seg_map_path
    - ori_shape (optional): (H, W) of the loaded image; the mask must match
      it. Test pipelines resize the image before loading the mask, so the
      mask is compared with the original size, not ``img_shape``.

    Added Keys:

    - gt_seg_map (np.ndarray): uint8 of shape (H, W) with values {0, 1}.
    - seg_fields: ``'gt_seg_map'`` is appended.

    Args:
        backend_args (dict, optional): File backend arguments for
            :func:`mmengine.fileio.get`. Defaults to None (local files).
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Load, binarise and check the mask of ``results``.

        Args:
            results (dict): Holds ``seg_map_path`` and, after an image
                loader, ``img_path`` and ``ori_shape``.

        Returns:
            dict: ``results`` with ``gt_seg_map`` and ``seg_fields``.
        """
        path = results['seg_map_path']
        try:
            mask_bytes = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError as err:
            raise FileNotFoundError(f'Mask file not found: {path}') from err
        try:
            mask = mmcv.imfrombytes(mask_bytes, flag='grayscale')
        except Exception as err:  # cv2.error for an empty file
            raise ValueError(f'Cannot decode mask {path}: the file is '
                             f'corrupt or not an image ({err})') from err
        if mask is None:
            raise ValueError(f'Cannot decode mask {path}: the file is '
                             'corrupt or not an image')
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and mask.shape[:2] != tuple(ori_shape[:2]):
            img_path = results.get('img_path')
            raise ValueError(
                f'Mask {path} is {mask.shape[0]}x{mask.shape[1]} (HxW) but '
                f'its image {img_path} is '
                f'{ori_shape[0]}x{ori_shape[1]}; a mask must have the size '
                'of its image')
        threshold = 127 if mask.max() > 1 else 0
        results['gt_seg_map'] = (mask > threshold).astype(np.uint8)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(backend_args={self.backend_args})'
