# Copyright (c) OpenMMLab. All rights reserved.
"""Geometric transforms."""
from typing import Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmvlsm.registry import TRANSFORMS, classification

# OpenAI CLIP's mean colour in BGR (images are BGR until the data
# preprocessor), the border colour of CRIS's letterbox.
CLIP_MEAN_BGR = (104.09373615, 116.7460125, 122.7709383)
INTERPOLATIONS = dict(
    nearest=cv2.INTER_NEAREST,
    bilinear=cv2.INTER_LINEAR,
    bicubic=cv2.INTER_CUBIC,
    area=cv2.INTER_AREA)


def letterbox_matrix(ori_shape: Tuple[int, int],
                     scale: Tuple[int, int],
                     half_pixel: bool = True) -> Tuple[np.ndarray, tuple]:
    """The affine map of a centred, aspect-keeping resize into a frame.

    The image of size ``ori_shape`` is scaled by ``s = min(H / h, W / w)``
    and centred in the ``scale`` = (W, H) frame. In continuous coordinates
    (pixel edges at integers) ``x' = s * x + (W - s * w) / 2``.

    With ``half_pixel`` the matrix is that map for OpenCV's pixel-centre
    coordinates (offsets ``+ (s - 1) / 2``): the image's area is exactly
    centred and the padding on either side equal. Without it the matrix is
    official CRIS's: the image's corners ``(0, 0), (w, 0), (0, h)`` go to
    the corners of its area in the frame as if corners were pixel centres
    (OpenCV's :func:`cv2.getAffineTransform` of those points in float32,
    so the matrix is the same to the last bit), which shifts the image by
    ``-(s - 1) / 2`` frame pixels from the centre (right and down when
    shrinking).

    Args:
        ori_shape (tuple[int, int]): The image's (height, width).
        scale (tuple[int, int]): The frame's (width, height).
        half_pixel (bool): Map pixel centres (True) or corners as official
            CRIS does (False). Defaults to True.

    Returns:
        tuple: The 2x3 matrix (float64) and the image's (height, width) in
        the frame (floats).
    """
    height, width = ori_shape
    frame_w, frame_h = scale
    s = min(frame_h / height, frame_w / width)
    new_h, new_w = height * s, width * s
    offset_x = (frame_w - new_w) / 2
    offset_y = (frame_h - new_h) / 2
    if half_pixel:
        shift = (s - 1) / 2
        matrix = np.array([[s, 0, offset_x + shift], [0, s, offset_y + shift]],
                          dtype=np.float64)
    else:
        corners = np.array([[0, 0], [width, 0], [0, height]], np.float64)
        placed = corners * s + (offset_x, offset_y)
        matrix = cv2.getAffineTransform(
            corners.astype(np.float32), placed.astype(np.float32))
    return matrix, (new_h, new_w)


@TRANSFORMS.register_module()
class LetterBoxResize(BaseTransform):
    """Resize keeping the aspect ratio and pad, centred, to a fixed size.

    CRIS's input transform: the image is scaled to fit ``scale`` and
    centred, the border filled with ``pad_val``; masks in ``seg_fields``
    follow with nearest interpolation and 0 borders. ``letterbox_size``
    (the image's height and width in the frame, floats) and
    ``letterbox_matrix`` (the 2x3 map from original to frame pixels, see
    :func:`letterbox_matrix`, as nested tuples) go to the metainfo, and the
    segmentor's post-processing uses the matrix to map predictions back
    onto the original image, padding dropped.

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``,
    ``gt_seg_map`` (and other ``seg_fields``). Added keys:
    ``letterbox_size``, ``letterbox_matrix``, ``scale_factor``,
    ``keep_ratio``.

    Args:
        scale (Sequence[int]): The frame's (width, height). Defaults to
            (416, 416).
        pad_val (float | Sequence[float]): Border colour in the image's
            channel order. Defaults to OpenAI CLIP's mean colour in BGR.
        interpolation (str): ``'nearest'``, ``'bilinear'``, ``'bicubic'``
            (CRIS's) or ``'area'``. Defaults to ``'bicubic'``.
        half_pixel (bool): Map pixel centres, so the image is exactly
            centred (True), or map the image's corners as official CRIS
            does, which shifts it by ``(1 - s) / 2`` frame pixels right
            and down for a scale ``s`` (False). Defaults to True.
    """

    def __init__(self,
                 scale: Sequence[int] = (416, 416),
                 pad_val: Sequence[float] = CLIP_MEAN_BGR,
                 interpolation: str = 'bicubic',
                 half_pixel: bool = True) -> None:
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of '
                             f'{sorted(INTERPOLATIONS)}, got '
                             f'{interpolation!r}.')
        if len(scale) != 2 or min(scale) < 1:
            raise ValueError(f'scale must be (width, height), got {scale}.')
        self.scale = tuple(int(side) for side in scale)
        self.pad_val = pad_val
        self.interpolation = interpolation
        self.half_pixel = half_pixel

    def transform(self, results: dict) -> dict:
        """Letterbox the image and its masks.

        Args:
            results (dict): The pipeline's results.

        Returns:
            dict: ``results``, letterboxed.
        """
        img = results['img']
        matrix, content = letterbox_matrix(img.shape[:2], self.scale,
                                           self.half_pixel)
        pad_val = self.pad_val
        if np.ndim(pad_val) == 0:
            pad_val = (pad_val, ) * 3
        results['img'] = cv2.warpAffine(
            img,
            matrix,
            self.scale,
            flags=INTERPOLATIONS[self.interpolation],
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=tuple(float(v) for v in pad_val))
        for key in results.get('seg_fields', []):
            if results.get(key) is not None:
                results[key] = cv2.warpAffine(
                    results[key],
                    matrix,
                    self.scale,
                    flags=cv2.INTER_NEAREST,
                    borderMode=cv2.BORDER_CONSTANT,
                    borderValue=0)
        results['img_shape'] = results['img'].shape[:2]
        results['letterbox_size'] = content
        results['letterbox_matrix'] = tuple(
            tuple(float(v) for v in row) for row in matrix)
        results['scale_factor'] = (matrix[0, 0], matrix[1, 1])
        results['keep_ratio'] = True
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'pad_val={self.pad_val}, '
                f'interpolation={self.interpolation!r}, '
                f'half_pixel={self.half_pixel})')


@classification.TRANSFORMS.register_module()
class RandomRot90(BaseTransform):
    """Rotate the image by a random multiple of 90 degrees.

    k in {0, 1, 2, 3} is drawn uniformly and the image turned by k x 90
    degrees counter-clockwise: CITE's rotation augmentation of pathology
    patches, whose orientation carries no meaning. Images only (for
    classification pipelines).

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``.
    """

    def transform(self, results: dict) -> dict:
        k = np.random.randint(4)
        results['img'] = np.ascontiguousarray(np.rot90(results['img'], k))
        results['img_shape'] = results['img'].shape[:2]
        return results
