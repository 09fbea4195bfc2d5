# Copyright (c) OpenMMLab. All rights reserved.
"""Image and mask loaders that fail with the path of the offending file.

The conversion rules (bit depth, colour, JPEG masks, label maps) are
described in ``docs/input_formats.md``.
"""
import logging
from typing import Optional, Sequence

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmengine.logging import print_log

from mmvlsm.registry import TRANSFORMS, classification

# Decode as stored: 8 or 16 bits, grey or BGR (palettes are expanded, alpha
# is dropped), with the EXIF orientation applied as mmcv's 'color' does.
IMREAD_AS_STORED = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
DEPTH_SCALINGS = ('range', 'dtype')
JPEG_MAGIC = b'\xff\xd8\xff'


def _check_depth_scaling(depth_scaling: str) -> None:
    if depth_scaling not in DEPTH_SCALINGS:
        raise ValueError(f'depth_scaling must be one of {DEPTH_SCALINGS}, '
                         f'got {depth_scaling!r}')


def to_uint8(img: np.ndarray,
             depth_scaling: str = 'range',
             name: str = 'image') -> np.ndarray:
    """Bring an 8-bit, 16-bit or [0, 1] float image to uint8.

    - uint8: unchanged.
    - uint16 with ``depth_scaling='range'``: the image's own range
      ``[min, max]`` is stretched to ``[0, 255]``, so a 12-bit-in-16 scan
      (values up to 4095) or a dim 16-bit one shows its anatomy; a constant
      image becomes 0. With ``'dtype'``: ``[0, 65535]`` is mapped to
      ``[0, 255]`` (divided by 257), which keeps the brightness of images
      that use the full 16-bit range, and makes 12-bit ones nearly black.
    - float (any precision) in ``[0, 1]``: multiplied by 255.

    Any other dtype, a NaN and a float outside ``[0, 1]`` are refused.

    Args:
        img (np.ndarray): Image of shape (H, W) or (H, W, C).
        depth_scaling (str): ``'range'`` or ``'dtype'``, for uint16.
            Defaults to 'range'.
        name (str): What to call the image in errors (its path).
            Defaults to 'image'.

    Returns:
        np.ndarray: uint8 image of the same shape.

    Raises:
        ValueError: For a dtype or values outside the rules above.
    """
    _check_depth_scaling(depth_scaling)
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        if depth_scaling == 'dtype':
            low, high = 0, np.iinfo(np.uint16).max
        else:
            low, high = int(img.min()), int(img.max())
        scaled = (img.astype(np.float32) - low) * (255 / max(high - low, 1))
        return np.round(scaled).astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating):
        low, high = float(img.min()), float(img.max())
        if not (0 <= low and high <= 1):  # also False for NaN
            raise ValueError(
                f'{name} is a {img.dtype} array with values in [{low}, '
                f'{high}]; float images must lie in [0, 1] (1 = white), '
                'uint8 ones in 0..255')
        return np.round(img * 255).astype(np.uint8)
    raise ValueError(f'{name} has dtype {img.dtype}; images must be uint8, '
                     'uint16 or float in [0, 1]')


def decode_image(content: bytes, path: str, kind: str = 'image') -> np.ndarray:
    """Decode image bytes as stored (see :data:`IMREAD_AS_STORED`).

    Args:
        content (bytes): The file's bytes.
        path (str): The file, named in errors.
        kind (str): ``'image'`` or ``'mask'``, for errors.
            Defaults to 'image'.

    Returns:
        np.ndarray: uint8 or uint16 (or float for float TIFFs) of shape
        (H, W) or (H, W, 3), BGR.

    Raises:
        ValueError: If the bytes are not an image.
    """
    error = None
    try:
        img = cv2.imdecode(np.frombuffer(content, np.uint8), IMREAD_AS_STORED)
    except cv2.error as err:  # an empty file
        img, error = None, err
    if img is None:
        reason = f' ({error})' if error is not None else ''
        raise ValueError(f'Cannot decode {kind} {path}: the file is corrupt '
                         f'or not an image{reason}') from error
    return img


# Segmentation and classification pipelines alike.
@classification.TRANSFORMS.register_module()
@TRANSFORMS.register_module()
class LoadCheckedImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` that reads 16-bit images and names bad files.

    The image is decoded as stored and brought to uint8 by :func:`to_uint8`
    (16-bit: stretched over the image's own range by default, see
    ``depth_scaling``), then to 3-channel BGR (grey images are repeated,
    alpha is dropped) or, with ``color_type='grayscale'``, to one channel.
    mmcv's loader would cast a 16-bit image to 8 bits by dropping the low
    byte, which leaves a 12-bit scan nearly black.

    A missing file raises ``FileNotFoundError`` and a corrupt one
    ``ValueError``, both naming the image; with ``ignore_empty=True`` both
    return None. The keys written (``img``, ``img_shape``, ``ori_shape``)
    and the other arguments are those of
    :class:`mmcv.transforms.LoadImageFromFile`.

    Args:
        depth_scaling (str): How a 16-bit image becomes 8-bit: ``'range'``
            (its min..max to 0..255) or ``'dtype'`` (0..65535 to 0..255).
            Defaults to 'range'.
        color_type (str): ``'color'`` or ``'grayscale'``.
            Defaults to 'color'.
        imdecode_backend (str): Only ``'cv2'``. Defaults to 'cv2'.
    """

    def __init__(self, *args, depth_scaling: str = 'range', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.color_type not in ('color', 'grayscale'):
            raise ValueError("color_type must be 'color' or 'grayscale', got "
                             f'{self.color_type!r}')
        if self.imdecode_backend != 'cv2':
            raise ValueError("imdecode_backend must be 'cv2', got "
                             f'{self.imdecode_backend!r}')
        _check_depth_scaling(depth_scaling)
        self.depth_scaling = depth_scaling

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']``.

        Args:
            results (dict): Holds ``img_path`` (str).

        Returns:
            dict | None: ``results`` with ``img`` (np.ndarray, uint8 of shape
            (H, W, 3), BGR, or (H, W) for ``color_type='grayscale'``;
            float32 with ``to_float32``), ``img_shape`` and ``ori_shape``
            ((H, W)), or None for a bad file when ``ignore_empty`` is True.
        """
        filename = results['img_path']
        try:
            if self.file_client_args is not None:
                content = fileio.FileClient.infer_client(
                    self.file_client_args, filename).get(filename)
            else:
                content = fileio.get(filename, backend_args=self.backend_args)
            img = to_uint8(
                decode_image(content, filename), self.depth_scaling, filename)
        except (FileNotFoundError, ValueError) as err:
            if self.ignore_empty:
                return None
            if isinstance(err, FileNotFoundError):
                raise FileNotFoundError(
                    f'Image file not found: {filename}') from err
            raise
        if self.color_type == 'color' and img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        elif self.color_type == 'grayscale' and img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{super().__repr__()[:-1]}, '
                f"depth_scaling='{self.depth_scaling}')")


@TRANSFORMS.register_module()
class LoadBinaryMask(BaseTransform):
    """Load a binary mask (or pick labels of a label map) as {0, 1}.

    The mask is decoded as stored (8 or 16 bits; alpha dropped; palette
    PNGs read as their colours), then:

    1. Colour: a 3-channel mask whose channels differ (e.g. red on black)
       is reduced to the maximum over its channels, i.e. a pixel is
       foreground when any channel is > 0 (or, with ``mask_labels``, the
       maximum is the label). A warning names the first such file. A grey
       mask saved as RGB (equal channels) is simply grey.
    2. JPEG (by content, not name): compression spreads the values, so the
       mask is split by Otsu's threshold (the one that best separates its
       two groups of values): a 0/255 mask gives back its object, and so
       does a 0/1 mask (values 0..2 after compression) up to the edge
       pixels that compression moved. A warning names the first JPEG mask;
       re-save masks losslessly (PNG) from their source to avoid it.
    3. ``mask_labels`` set: pixels whose value is one of them are
       foreground, every other value is background (a label map).
    4. Otherwise the mask must hold at most two values, 0 and one other
       (0/1, 0/255, 0/65535 ...): nonzero pixels are foreground. A mask with
       more values (a label map, an anti-aliased or resized mask) is an
       error naming the file, as is one whose two values are both nonzero.

    An all-zero mask is valid. Warnings are logged once per loader (each
    dataloader worker holds its own copy).

    Required Keys:

    - seg_map_path
    - ori_shape (optional): (H, W) of the loaded image; the mask must match
      it. Test pipelines resize the image before loading the mask, so the
      mask is compared with the original size, not ``img_shape``.

    Added Keys:

    - gt_seg_map (np.ndarray): uint8 of shape (H, W) with values {0, 1}.
    - seg_fields: ``'gt_seg_map'`` is appended.

    Args:
        mask_labels (Sequence[int], optional): Values that are foreground,
            for masks that are label maps, e.g. ``[1]`` or ``[1, 2]``.
            Defaults to None (binary masks).
        backend_args (dict, optional): File backend arguments for
            :func:`mmengine.fileio.get`. Defaults to None (local files).
    """

    def __init__(self,
                 mask_labels: Optional[Sequence[int]] = None,
                 backend_args: Optional[dict] = None) -> None:
        if mask_labels is not None:
            if (isinstance(mask_labels, (str, bytes)) or not mask_labels
                    or not all(
                        isinstance(v, int) and not isinstance(v, bool)
                        for v in mask_labels)):
                raise ValueError('mask_labels must be a non-empty list of '
                                 f'ints, got {mask_labels!r}')
            mask_labels = sorted(set(mask_labels))
        self.mask_labels = mask_labels
        self.backend_args = backend_args.copy() if backend_args else None
        self._warned = set()

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            print_log(message, logger='current', level=logging.WARNING)

    def _binarize(self, mask: np.ndarray, path: str,
                  is_jpeg: bool) -> np.ndarray:
        """(H, W) or (H, W, 3) decoded mask -> (H, W) bool foreground."""
        if mask.ndim == 3:
            grey = mask.max(axis=2)
            if (mask != grey[..., None]).any():
                self._warn_once(
                    'colour',
                    f'Mask {path} is a colour image; a pixel is foreground '
                    'where any channel is > 0 (further colour masks are '
                    'reduced the same way without a warning; see '
                    'docs/input_formats.md)')
            mask = grey
        if is_jpeg:
            self._warn_once(
                'jpeg',
                f'Mask {path} is a JPEG: lossy compression changes mask '
                "values, so it is split by Otsu's threshold (also further "
                'JPEG masks). A 0/1 mask saved as JPEG may lose or gain '
                'pixels at its edges; save masks as PNG. See '
                'docs/input_formats.md.')
        if self.mask_labels is not None:
            return np.isin(mask, self.mask_labels)
        if is_jpeg:
            # JPEG masks are 8-bit; Otsu gives 0 for a constant mask.
            threshold, _ = cv2.threshold(mask, 0, 1,
                                         cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            return mask > threshold
        values = np.unique(mask)
        if len(values) > 2 or (len(values) == 2 and values[0] != 0):
            shown = values[:8].tolist()
            more = ' ...' if len(values) > 8 else ''
            raise ValueError(
                f'Mask {path} holds {len(values)} values {shown}{more}, '
                'but a binary mask holds 0 and one other value. For a '
                'label map, set mask_labels=[...] (the foreground values) '
                'in LoadBinaryMask; see docs/input_formats.md')
        return mask > 0

    def transform(self, results: dict) -> dict:
        """Load, binarise and check the mask of ``results``.

        Args:
            results (dict): Holds ``seg_map_path`` and, after an image
                loader, ``img_path`` and ``ori_shape``.

        Returns:
            dict: ``results`` with ``gt_seg_map`` and ``seg_fields``.

        Raises:
            FileNotFoundError: If the mask does not exist.
            ValueError: If it cannot be decoded, breaks the rules above or
                differs in size from its image.
        """
        path = results['seg_map_path']
        try:
            content = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError as err:
            raise FileNotFoundError(f'Mask file not found: {path}') from err
        mask = decode_image(content, path, kind='mask')
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and mask.shape[:2] != tuple(ori_shape[:2]):
            img_path = results.get('img_path')
            raise ValueError(
                f'Mask {path} is {mask.shape[0]}x{mask.shape[1]} (HxW) but '
                f'its image {img_path} is '
                f'{ori_shape[0]}x{ori_shape[1]}; a mask must have the size '
                'of its image')
        foreground = self._binarize(mask, path, content.startswith(JPEG_MAGIC))
        results['gt_seg_map'] = foreground.astype(np.uint8)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mask_labels={self.mask_labels}, '
                f'backend_args={self.backend_args})')
