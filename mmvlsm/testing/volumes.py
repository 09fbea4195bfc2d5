# Copyright (c) OpenMMLab. All rights reserved.
"""Tiny volumes with known geometry, and DICOM series written from arrays.

Tests and benchmarks of :mod:`mmvlsm.datasets.volumes` build their inputs
here. Geometry follows SimpleITK: spacing and origin in mm, physical
coordinates in DICOM's patient system (LPS: x to the patient's left, y to
the back, z up), the direction a row-major 3 x 3 matrix whose columns are
the physical directions of the image's x, y and z index axes. Arrays are
(z, y, x), as ``sitk.GetArrayFromImage`` gives them.
"""
import os
import os.path as osp
import uuid
from typing import Optional, Sequence, Tuple

import numpy as np
import SimpleITK as sitk

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
# Stored-value ranges of 16-bit DICOM pixels (signed and unsigned).
INT16_RANGE = (np.iinfo(np.int16).min, np.iinfo(np.int16).max)
UINT16_RANGE = (0, np.iinfo(np.uint16).max)


def make_volume(array_zyx: np.ndarray,
                spacing_zyx: Sequence[float] = (1.0, 1.0, 1.0),
                origin: Sequence[float] = (0.0, 0.0, 0.0),
                direction: Sequence[float] = IDENTITY) -> sitk.Image:
    """A SimpleITK image of ``array_zyx`` with the given geometry.

    Args:
        array_zyx (np.ndarray): The voxels, shape (z, y, x).
        spacing_zyx (Sequence[float]): Voxel size in mm along z, y and x
            (the array's axis order). Defaults to 1 mm.
        origin (Sequence[float]): Physical (x, y, z) position in mm of
            voxel (0, 0, 0). Defaults to (0, 0, 0).
        direction (Sequence[float]): Row-major 3 x 3 direction matrix (9
            values). Defaults to the identity.

    Returns:
        sitk.Image: The 3D image, size (x, y, z).
    """
    image = sitk.GetImageFromArray(np.asarray(array_zyx))
    image.SetSpacing(tuple(float(s) for s in reversed(spacing_zyx)))
    image.SetOrigin(tuple(float(v) for v in origin))
    image.SetDirection(tuple(float(v) for v in direction))
    return image


def _stored_range(stored: np.ndarray) -> Tuple[str, str]:
    """DICOM's Pixel Representation and Bits Stored for ``stored``."""
    low, high = stored.min(), stored.max()
    if INT16_RANGE[0] <= low and high <= INT16_RANGE[1]:
        return '1', '16'
    if UINT16_RANGE[0] <= low and high <= UINT16_RANGE[1]:
        return '0', '16'
    raise ValueError(f'stored values {low}..{high} fit neither int16 nor '
                     'uint16; choose another rescale slope and intercept')


def write_dicom_series(array_zyx: np.ndarray,
                       folder: str,
                       spacing: Sequence[float] = (1.0, 1.0, 1.0),
                       origin: Sequence[float] = (0.0, 0.0, 0.0),
                       direction: Sequence[float] = IDENTITY,
                       series_uid: Optional[str] = None,
                       description: str = '',
                       modality: str = 'CT',
                       rescale: Tuple[float, float] = (1.0, 0.0),
                       file_prefix: str = 'slice') -> str:
    """Write a CT-like DICOM series, one file per z slice.

    The values of ``array_zyx`` are what a reader returns once it applies
    the rescale (HU for CT). Each slice is stored as 16-bit integers
    ``(value - intercept) / slope`` (int16, or uint16 when the stored
    values are all >= 0 and exceed int16), with that slope and intercept
    in its header, so that ``stored * slope + intercept`` gives
    ``array_zyx`` back exactly.

    Every file carries the series' SeriesInstanceUID, StudyInstanceUID and
    FrameOfReferenceUID, its own ImagePositionPatient and InstanceNumber,
    the ImageOrientationPatient of ``direction``, PixelSpacing,
    SliceThickness, Modality and SeriesDescription. Files are named
    ``<file_prefix><index:03d>.dcm``, so several series can share a folder.

    Args:
        array_zyx (np.ndarray): The rescaled values, shape (z, y, x).
        folder (str): Where the files go; created if missing.
        spacing (Sequence[float]): Voxel size in mm along z (the distance
            between slice positions), y and x. Defaults to 1 mm.
        origin (Sequence[float]): Physical (x, y, z) position in mm of the
            first voxel of the first slice. Defaults to (0, 0, 0).
        direction (Sequence[float]): Row-major 3 x 3 direction matrix; its
            first two columns are the orientation of the rows and columns,
            the third the direction in which slices follow. Defaults to
            the identity.
        series_uid (str, optional): The SeriesInstanceUID; a new UUID-based
            UID when None.
        description (str): The SeriesDescription. Defaults to ''.
        modality (str): The Modality. Defaults to ``'CT'``.
        rescale (tuple[float, float]): RescaleSlope and RescaleIntercept.
            Defaults to (1, 0).
        file_prefix (str): Start of the file names. Defaults to
            ``'slice'``.

    Returns:
        str: The SeriesInstanceUID written.

    Raises:
        ValueError: If ``array_zyx`` is not 3D, or a value does not come
            from a 16-bit integer through the rescale.
    """
    values = np.asarray(array_zyx, dtype=np.float64)
    if values.ndim != 3:
        raise ValueError(f'a series needs a (z, y, x) array, got shape '
                         f'{values.shape}')
    slope, intercept = map(float, rescale)
    stored = (values - intercept) / slope
    if not np.array_equal(stored, np.round(stored)):
        raise ValueError('every value must be stored * slope + intercept for '
                         f'an integer stored value (slope {slope}, intercept '
                         f'{intercept})')
    representation, bits = _stored_range(stored)
    # GDCM stores (value - intercept) / slope when the rescale tags are
    # set, so the image handed to the writer holds the rescaled values.
    image = make_volume(values, spacing, origin, direction)
    series_uid = series_uid or f'2.25.{uuid.uuid4().int}'
    d = image.GetDirection()
    shared_tags = {
        '0020|000e': series_uid,
        '0020|000d': f'2.25.{uuid.uuid4().int}',  # StudyInstanceUID
        '0020|0052': f'2.25.{uuid.uuid4().int}',  # FrameOfReferenceUID
        '0008|0060': modality,
        '0008|103e': description,
        '0020|0037':
        '\\'.join(map(repr, (d[0], d[3], d[6], d[1], d[4], d[7]))),
        '0028|0030': f'{float(spacing[1])!r}\\{float(spacing[2])!r}',
        '0018|0050': repr(float(spacing[0])),  # SliceThickness
        '0028|1053': repr(slope),
        '0028|1052': repr(intercept),
        '0028|0100': '16',  # BitsAllocated
        '0028|0101': bits,  # BitsStored
        '0028|0102': str(int(bits) - 1),  # HighBit
        '0028|0103': representation,  # PixelRepresentation
    }
    os.makedirs(folder, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for z in range(image.GetDepth()):
        one = image[:, :, z]
        for tag, value in shared_tags.items():
            one.SetMetaData(tag, value)
        position = image.TransformIndexToPhysicalPoint((0, 0, z))
        one.SetMetaData('0020|0032', '\\'.join(map(repr, position)))
        one.SetMetaData('0020|0013', str(z + 1))  # InstanceNumber
        writer.SetFileName(osp.join(folder, f'{file_prefix}{z:03d}.dcm'))
        writer.Execute(one)
    return series_uid
