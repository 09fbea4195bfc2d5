# Copyright (c) OpenMMLab. All rights reserved.
"""Loading, cropping and packing of 3D volumes for volumetric models.

Arrays are laid out (H, W, D), depth last as upstream PUNet and MONAI: the
volume's axial slices (see :func:`mmvlsm.datasets.volumes.slice_layout`:
rows anterior to posterior, columns patient right to left, slices
inferior to superior) with the slice axis moved last. The layout comes
from the direction matrix, so a scan stored RAS, LPS or flipped gives the
same arrays.
"""
from typing import Optional, Sequence

import numpy as np
import SimpleITK as sitk
import torch
from mmcv.transforms import BaseTransform
from mmseg.structures import SegDataSample

from mmvlsm.registry import TRANSFORMS
from mmvlsm.structures import VolumeData
from ..volumes import (VolumeError, array_view, check_same_geometry,
                       parse_window, read_volume, slice_layout)
from ..volumes.intensity import WindowSpec

# The metainfo every volume sample carries (when present in the results).
DEFAULT_VOLUME_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape',
                            'img_shape', 'spacing', 'img_name', 'mask_name',
                            'dataset_name', 'subject', 'active_class')


def _read_3d(path: str) -> sitk.Image:
    image = read_volume(path).image
    if image.GetDimension() != 3:
        raise VolumeError(f'{path} has size {image.GetSize()}; expected a 3D '
                          'volume')
    return image


@TRANSFORMS.register_module()
class LoadVolumeFromFile(BaseTransform):
    """Read a scan, lay it out (H, W, D) and window it to uint8.

    The volume is read by :func:`mmvlsm.datasets.volumes.read_volume` (any
    of its formats) and windowed by
    :class:`mmvlsm.datasets.volumes.IntensityWindow` as the 2D slices of
    ``ct_multiorgan.py`` are ([-1000, 1000] HU to 0..255 by default).

    Required Keys:

    - img_path (str)

    Added Keys:

    - img (np.ndarray): uint8 of shape (H, W, D)
    - img_volume (SimpleITK.Image): the scan as read, whose geometry
      :class:`LoadVolumeAnnotations` checks the labels against
    - spacing (tuple[float, float, float]): voxel size in mm, (H, W, D)
    - ori_shape, img_shape (tuple[int, int, int]): (H, W, D)

    Args:
        window (str | Sequence[float] | dict | None): The intensity rule,
            in any form of :func:`mmvlsm.datasets.volumes.parse_window`.
            Defaults to ``dict(level=0, width=2000)``.
    """

    def __init__(self, window: WindowSpec = dict(level=0, width=2000)) -> None:
        self.window = parse_window(window)

    def transform(self, results: dict) -> dict:
        """Load ``results['img_path']``.

        Args:
            results (dict): The pipeline's results.

        Returns:
            dict: ``results`` with the keys above.

        Raises:
            FileNotFoundError: If the file does not exist.
            VolumeError: Naming the file, if it is unreadable or not 3D.
        """
        image = _read_3d(results['img_path'])
        layout = slice_layout(image.GetDirection())
        values = layout.depth_last(array_view(image))
        img = np.ascontiguousarray(
            self.window.resolve(values).to_uint8(values))
        results['img'] = img
        results['img_volume'] = image
        results['spacing'] = layout.depth_last_spacing(image.GetSpacing())
        results['ori_shape'] = results['img_shape'] = img.shape
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(window={self.window})'


@TRANSFORMS.register_module()
class LoadVolumeAnnotations(BaseTransform):
    """Read the label volume of a scan, checked against the scan and the
    classes.

    The labels must lie on the scan's voxels (same size, spacing, origin
    and direction, see :func:`mmvlsm.datasets.volumes.check_same_geometry`)
    and hold whole class indices in ``0 .. num_classes - 1``. Put it after
    :class:`LoadVolumeFromFile`.

    Required Keys:

    - img_path (str), seg_map_path (str)
    - img_volume (SimpleITK.Image)
    - num_classes (int), unless given as an argument
      (:class:`MultiClassVolumeDataset` sets it)

    Added Keys:

    - gt_seg_map (np.ndarray): class indices of shape (H, W, D), uint8
      (int64 for more than 256 classes)
    - seg_fields (list[str]): ``'gt_seg_map'`` appended

    Args:
        num_classes (int, optional): The number of classes, background
            included. Defaults to None (``results['num_classes']``).
    """

    def __init__(self, num_classes: Optional[int] = None) -> None:
        self.num_classes = num_classes

    def transform(self, results: dict) -> dict:
        """Load ``results['seg_map_path']``.

        Args:
            results (dict): The pipeline's results.

        Returns:
            dict: ``results`` with ``gt_seg_map``.

        Raises:
            KeyError: If the scan is not loaded or the number of classes is
                unknown.
            VolumeError: Naming the label volume and the scan, if their
                geometries differ; naming the label volume and the values,
                if it holds values that are not class indices.
        """
        path = results['seg_map_path']
        num_classes = self.num_classes or results.get('num_classes')
        if 'img_volume' not in results or num_classes is None:
            raise KeyError(
                f'LoadVolumeAnnotations needs img_volume and num_classes for '
                f'{path}: load the scan with LoadVolumeFromFile first, and '
                'use MultiClassVolumeDataset or give num_classes')
        reference = results['img_volume']
        labels = _read_3d(path)
        check_same_geometry(reference, labels, results['img_path'], path)
        values = slice_layout(reference.GetDirection()).depth_last(
            array_view(labels))
        results['gt_seg_map'] = _class_indices(values, num_classes, path)
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_classes={self.num_classes})'


def _class_indices(values: np.ndarray, num_classes: int,
                   path: str) -> np.ndarray:
    """``values`` as class indices, refusing any other value."""
    if not np.issubdtype(values.dtype, np.integer):
        # Float label files are common; their values must still be whole.
        fractional = values[np.rint(values) != values]
        if fractional.size:
            raise VolumeError(
                f'{path} holds label values that are not class indices: '
                f'{np.unique(fractional)[:10].tolist()}')
    bad = values[(values < 0) | (values >= num_classes)]
    if bad.size:
        raise VolumeError(
            f'{path} holds label values {np.unique(bad)[:10].tolist()} '
            f'outside the classes 0..{num_classes - 1} of the dataset')
    dtype = np.uint8 if num_classes <= 256 else np.int64
    return np.ascontiguousarray(values, dtype=dtype)


@TRANSFORMS.register_module()
class RandomVolumeCrop(BaseTransform):
    """A random (H, W, D) patch of the volume and its label maps.

    Axes shorter than the patch are first padded on both sides (the odd
    voxel after), the image with its minimum and label maps with 0
    (background), as upstream's crop-then-pad; each axis's offset is then
    drawn uniformly with numpy's global random state (seeded by mmengine in
    every dataloader worker).

    Required Keys:

    - img (np.ndarray): (H, W, D)
    - seg_fields (list[str]), optional: label maps of the same shape

    Modified Keys:

    - img, the maps of seg_fields: ``crop_size``
    - img_shape

    Args:
        crop_size (Sequence[int]): The patch (H, W, D), e.g. PUNet's
            teacher field of view.
    """

    def __init__(self, crop_size: Sequence[int]) -> None:
        if len(crop_size) != 3 or not all(
                isinstance(s, int) and s > 0 for s in crop_size):
            raise ValueError('crop_size must be three positive ints (H, W, '
                             f'D), got {crop_size!r}')
        self.crop_size = tuple(crop_size)

    def transform(self, results: dict) -> dict:
        """Crop ``results['img']`` and its label maps.

        Args:
            results (dict): The pipeline's results.

        Returns:
            dict: ``results`` with the patches.
        """
        img = results['img']
        if img.ndim != 3:
            raise ValueError('RandomVolumeCrop crops (H, W, D) volumes; '
                             f"{results.get('img_path')} is {img.shape}")
        width = [((s - n) // 2, s - n - (s - n) // 2) if n < s else (0, 0)
                 for n, s in zip(img.shape, self.crop_size)]
        padded = tuple(max(n, s) for n, s in zip(img.shape, self.crop_size))
        box = tuple(
            slice(start, start + s) for start, s in zip((
                np.random.randint(n - s + 1)
                for n, s in zip(padded, self.crop_size)), self.crop_size))
        fills = {'img': img.min()}
        for key in ['img'] + list(results.get('seg_fields', [])):
            data = results[key]
            if data.shape != img.shape:
                raise ValueError(f'{key} has shape {data.shape}, the image '
                                 f'{img.shape}')
            data = np.pad(data, width, constant_values=fills.get(key, 0))
            results[key] = np.ascontiguousarray(data[box])
        results['img_shape'] = self.crop_size
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'


@TRANSFORMS.register_module()
class PackVolumeInputs(BaseTransform):
    """Pack a volume sample into ``inputs`` and a ``SegDataSample``.

    Required Keys:

    - img (np.ndarray): uint8 of shape (H, W, D)
    - gt_seg_map (np.ndarray), optional: (H, W, D)
    - the meta keys present

    Results:

    - inputs (Tensor): (1, H, W, D), the image's dtype (uint8)
    - data_samples (SegDataSample): ``gt_sem_seg`` a
      :class:`mmvlsm.structures.VolumeData` of int64 (1, H, W, D) (when
      the labels are loaded) and the meta keys present in the metainfo

    Args:
        meta_keys (Sequence[str]): Keys of ``results`` kept in the metainfo.
            Defaults to :data:`DEFAULT_VOLUME_META_KEYS`.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = DEFAULT_VOLUME_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack ``results``.

        Args:
            results (dict): The pipeline's results.

        Returns:
            dict: ``inputs`` (Tensor) and ``data_samples``
            (``SegDataSample``).
        """
        img = results['img']
        if img.ndim != 3:
            raise ValueError('PackVolumeInputs packs (H, W, D) volumes; '
                             f"{results.get('img_path')} is {img.shape}")
        sample = SegDataSample()
        if 'gt_seg_map' in results:
            labels = results['gt_seg_map']
            if labels.shape != img.shape:
                raise ValueError(f'gt_seg_map has shape {labels.shape}, the '
                                 f'image {img.shape}')
            sample.gt_sem_seg = VolumeData(
                data=torch.from_numpy(labels[None].astype(np.int64)))
        sample.set_metainfo(
            {key: results[key]
             for key in self.meta_keys if key in results})
        inputs = torch.from_numpy(np.ascontiguousarray(img[None]))
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
