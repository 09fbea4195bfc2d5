# Copyright (c) OpenMMLab. All rights reserved.
"""Reading and writing medical volumes with SimpleITK, geometry kept.

Every mmvlsm tool that meets a volume (``tools/infer.py``,
``inference_model``, ``evaluate_masks.py``) reads it with
:func:`read_volume` and writes one with :func:`write_volume`. A volume is a
SimpleITK image: its voxels plus the geometry (spacing, origin and
direction) that places them in the patient, which is what a mask must
carry to line up with the scan in a viewer.

Formats: NIfTI (``.nii``, ``.nii.gz``), MetaImage (``.mha``, ``.mhd`` with
its ``.raw``), NRRD (``.nrrd``, ``.nhdr``) and DICOM series (a folder, or
any one file of the series). DICOM's rescale slope and intercept are
applied by SimpleITK's GDCM reader, so CT voxels are in HU.
"""
import gzip
import os
import os.path as osp
import struct
import uuid
import zlib
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

import numpy as np
import SimpleITK as sitk

# Extensions of single-file volumes (and headers of detached-data ones).
VOLUME_EXTENSIONS = ('.nii.gz', '.nii', '.mha', '.mhd', '.nrrd', '.nhdr')
# Extensions DICOM files are usually given; files without an extension are
# recognised by their preamble (``DICM`` at byte 128).
DICOM_EXTENSIONS = ('.dcm', '.dicom', '.ima')
# Formats written for masks; detached-header inputs map to their one-file
# form (the data file of a ``.mhd`` would keep a temporary name).
OUTPUT_FORMATS = ('.nii.gz', '.nii', '.mha', '.nrrd')
# DICOM tags read for the series listing, the spacing check and the
# modality.
SERIES_DESCRIPTION_TAG = '0008|103e'
PIXEL_SPACING_TAG = '0028|0030'
MODALITY_TAG = '0008|0060'


class VolumeError(ValueError):
    """A volume that cannot be read or used; the message names it."""


@dataclass
class DicomSeries:
    """One DICOM series of a folder."""

    uid: str
    description: str
    files: List[str]

    def __str__(self) -> str:
        description = self.description or '(no description)'
        return f'{self.uid} "{description}", {len(self.files)} slices'


class _ImageBuffer:
    """An image's voxels as an array interface holding the image, so that
    arrays made from it keep the buffer alive."""

    def __init__(self, image: sitk.Image) -> None:
        self.image = image
        self.__array_interface__ = sitk.GetArrayViewFromImage(
            image).__array_interface__


@dataclass
class Volume:
    """A scalar volume (or a 2D image) read by :func:`read_volume`.

    Attributes:
        image (sitk.Image): The voxels (DICOM rescale applied) and their
            geometry. 3D, or 2D for a single-slice file.
        source (str): What was read (a file, or a DICOM folder).
        spacing_declared (bool): Whether the file states its voxel
            spacing; if not, SimpleITK's 1 mm stands.
        modality (str, optional): DICOM's modality (``CT``, ``MR`` ...).
        series_uid (str, optional): The DICOM series read.
    """

    image: sitk.Image
    source: str
    spacing_declared: bool = True
    modality: Optional[str] = None
    series_uid: Optional[str] = None
    files: List[str] = field(default_factory=list)

    @property
    def array(self) -> np.ndarray:
        """The voxels, (z, y, x) (or (y, x)), a read-only view of the
        image's buffer (see :func:`array_view`)."""
        return array_view(self.image)

    @property
    def spacing(self) -> Tuple[float, ...]:
        """Voxel size in mm, in the order of :attr:`array`'s axes."""
        return tuple(reversed(self.image.GetSpacing()))


def array_view(image: sitk.Image) -> np.ndarray:
    """A read-only (z, y, x) view of a SimpleITK image's voxels, no copy.

    Unlike ``sitk.GetArrayViewFromImage``, the view keeps the image alive,
    so it stays valid after the image's last other reference is gone
    (``read_volume(path).array``).
    """
    view = np.asarray(_ImageBuffer(image))
    view.flags.writeable = False
    return view


def volume_extension(path: str) -> Optional[str]:
    """The volume extension ``path`` ends with (``.nii.gz`` counted as
    one), or None."""
    lower = path.lower()
    return next((ext for ext in VOLUME_EXTENSIONS if lower.endswith(ext)),
                None)


def is_dicom_file(path: str) -> bool:
    """Whether ``path`` is a DICOM file: by extension, else by the
    ``DICM`` marker after the 128-byte preamble."""
    if osp.splitext(path)[1].lower() in DICOM_EXTENSIONS:
        return True
    try:
        with open(path, 'rb') as f:
            f.seek(128)
            return f.read(4) == b'DICM'
    except OSError:
        return False


def dicom_files(folder: str) -> List[str]:
    """The DICOM files directly inside ``folder`` (not its sub-folders),
    sorted."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [
        osp.join(folder, name) for name in names
        if not name.startswith('.') and osp.isfile(osp.join(folder, name))
        and is_dicom_file(osp.join(folder, name))
    ]


def is_volume_source(path: str) -> bool:
    """Whether ``path`` is a volume file, a DICOM file or a folder holding
    DICOM files."""
    if osp.isdir(path):
        return bool(dicom_files(path))
    return volume_extension(path) is not None or is_dicom_file(path)


def list_dicom_series(folder: str) -> List[DicomSeries]:
    """The DICOM series directly inside ``folder``.

    Raises:
        VolumeError: If the folder holds no readable DICOM series.
    """
    reader = sitk.ImageSeriesReader()
    uids = reader.GetGDCMSeriesIDs(folder)
    if not uids:
        raise VolumeError(f'{folder} holds no DICOM series')
    series = []
    for uid in uids:
        files = list(reader.GetGDCMSeriesFileNames(folder, uid))
        series.append(
            DicomSeries(uid, _dicom_tag(files[0], SERIES_DESCRIPTION_TAG),
                        files))
    return series


def _dicom_tag(path: str, tag: str) -> str:
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    reader.ReadImageInformation()
    return reader.GetMetaData(tag).strip() if reader.HasMetaDataKey(
        tag) else ''


def _read_dicom(path: str, series: Optional[str]) -> Volume:
    """A DICOM series from its folder or from one of its files."""
    folder = path if osp.isdir(path) else osp.dirname(path) or '.'
    try:
        found = list_dicom_series(folder)
    except VolumeError:
        if osp.isdir(path):
            raise
        found = []  # the file's own check below names it
    if not osp.isdir(path):
        own = [
            s for s in found if any(
                osp.samefile(path, name) for name in s.files)
        ]
        if not own:
            raise VolumeError(f'{path} is not a readable DICOM image (not '
                              f'in any series of {folder})')
        if series is None:
            series = own[0].uid
    if series is not None:
        chosen = [s for s in found if s.uid == series]
        if not chosen:
            raise VolumeError(
                f'{folder} has no DICOM series {series}; it holds: ' +
                '; '.join(map(str, found)))
    elif len(found) > 1:
        raise VolumeError(
            f'{folder} holds {len(found)} DICOM series; choose one with '
            '--series UID (series= in Python): ' + '; '.join(map(str, found)))
    else:
        chosen = found
    files = chosen[0].files
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    image = reader.Execute()
    return Volume(
        image,
        folder,
        spacing_declared=bool(_dicom_tag(files[0], PIXEL_SPACING_TAG)),
        modality=_dicom_tag(files[0], MODALITY_TAG) or None,
        series_uid=chosen[0].uid,
        files=files)


def _header_text(path: str) -> str:
    """The text header of a MetaImage or NRRD file (up to its data)."""
    with open(path, 'rb') as f:
        head = f.read(1 << 16)
    for end in (b'\n\n', b'ElementDataFile'):
        cut = head.find(end)
        if cut >= 0:
            head = head[:cut + len(end)]
    return head.decode('latin-1')


def _nifti_header(path: str) -> Tuple[np.ndarray, int]:
    """The pixdim of a NIfTI-1 or NIfTI-2 file as stored (nibabel would
    set zeros to 1 on loading) and the bytes its header and voxels
    need."""
    opener = gzip.open if path.lower().endswith('.gz') else open
    with opener(path, 'rb') as f:
        head = f.read(540)
    for endian in '<>':
        (size, ) = struct.unpack(endian + 'i', head[:4])
        if size == 348:
            dim = struct.unpack(endian + '8h', head[40:56])
            (bitpix, ) = struct.unpack(endian + 'h', head[72:74])
            pixdim = struct.unpack(endian + '8f', head[76:108])
            (offset, ) = struct.unpack(endian + 'f', head[108:112])
            break
        if size == 540:
            (bitpix, ) = struct.unpack(endian + 'h', head[14:16])
            dim = struct.unpack(endian + '8q', head[16:80])
            pixdim = struct.unpack(endian + '8d', head[104:168])
            (offset, ) = struct.unpack(endian + 'q', head[168:176])
            break
    else:
        raise VolumeError(f'{path} has no NIfTI header')
    voxels = int(np.prod(dim[1:dim[0] + 1], dtype=np.int64))
    return np.array(pixdim), int(offset) + voxels * bitpix // 8


def _stored_bytes(path: str) -> int:
    """The size of a file, decompressed for ``.gz`` (which reads it to
    the end, so a truncated or corrupt stream raises)."""
    if not path.lower().endswith('.gz'):
        return osp.getsize(path)
    total = 0
    with gzip.open(path, 'rb') as f:
        while True:
            chunk = f.read(1 << 24)
            if not chunk:
                return total
            total += len(chunk)


def _check_nifti(path: str, dimension: int) -> bool:
    """Refuse a truncated NIfTI file (ITK reads one without complaint,
    filling the missing voxels) and tell whether it states its spacing.

    Raises:
        VolumeError: Naming ``path``, if its voxels are cut short or its
            compressed stream is corrupt.
    """
    try:
        pixdim, needed = _nifti_header(path)
        stored = _stored_bytes(path)
    except (OSError, EOFError, zlib.error) as err:
        raise VolumeError(f'Cannot read volume {path}: it is corrupt or '
                          f'truncated ({err})') from err
    if stored < needed:
        raise VolumeError(f'Cannot read volume {path}: it is truncated '
                          f'({stored} of its {needed} bytes)')
    return bool(np.all(pixdim[1:dimension + 1] > 0))


def _declares_spacing(path: str, extension: str, dimension: int) -> bool:
    """Whether a MetaImage or NRRD file states its spacing (SimpleITK puts
    1 mm in when it does not, without saying so)."""
    header = _header_text(path)
    if extension in ('.nrrd', '.nhdr'):
        return 'space directions' in header or 'spacings' in header
    return 'ElementSpacing' in header or 'ElementSize' in header


def choose_frame_component(image: sitk.Image, source: str,
                           frame: Optional[int],
                           component: Optional[int]) -> sitk.Image:
    """One frame of a 4D image and one component of a vector image.

    Raises:
        VolumeError: Naming ``source``, for a 4D or multi-component image
            without its choice, a choice out of range, or an image that is
            not 2D or 3D.
    """
    size = image.GetSize()
    if image.GetDimension() == 4:
        if frame is None:
            raise VolumeError(
                f'{source} is 4D (size x, y, z, t = {size}); choose a frame '
                f'with --frame 0..{size[3] - 1} (frame= in Python)')
        if not 0 <= frame < size[3]:
            raise VolumeError(f'{source}: frame {frame} is not in '
                              f'0..{size[3] - 1}')
        image = sitk.Extract(image, size[:3] + (0, ), (0, 0, 0, frame))
    elif frame is not None:
        raise VolumeError(f'{source} is {image.GetDimension()}D: it has no '
                          f'frames (frame {frame})')
    if image.GetDimension() not in (2, 3):
        raise VolumeError(f'{source} is {image.GetDimension()}D (size '
                          f'{size}); volumes are 3D')
    channels = image.GetNumberOfComponentsPerPixel()
    if channels > 1:
        if component is None:
            raise VolumeError(
                f'{source} has {channels} components per voxel (size '
                f'{image.GetSize()}); choose one with --component '
                f'0..{channels - 1} (component= in Python)')
        if not 0 <= component < channels:
            raise VolumeError(f'{source}: component {component} is not in '
                              f'0..{channels - 1}')
        image = sitk.VectorIndexSelectionCast(image, component)
    elif component not in (None, 0):
        raise VolumeError(f'{source} has one component per voxel '
                          f'(component {component})')
    return image


def read_volume(path: Union[str, os.PathLike],
                series: Optional[str] = None,
                frame: Optional[int] = None,
                component: Optional[int] = None) -> Volume:
    """Read a volume file or a DICOM series.

    Args:
        path (str | os.PathLike): A volume file, a DICOM folder, or one
            file of a DICOM series (its folder's series of that file).
        series (str, optional): The SeriesInstanceUID to read from a
            folder holding several series. Defaults to None.
        frame (int, optional): The frame of a 4D volume. Defaults to None.
        component (int, optional): The component of a multi-component
            volume. Defaults to None.

    Returns:
        Volume: The scalar volume with its geometry.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        VolumeError: If it cannot be read (corrupt, truncated, not a
            volume), a folder holds several series and none is chosen, or a
            4D or multi-component volume comes without its choice.
    """
    path = os.fspath(path)
    if not osp.exists(path):
        raise FileNotFoundError(f'volume not found: {path}')
    extension = volume_extension(path)
    try:
        if osp.isdir(path) or extension is None:
            if not (osp.isdir(path) or is_dicom_file(path)):
                raise VolumeError(
                    f'{path} is not a volume (extensions read: '
                    f'{" ".join(VOLUME_EXTENSIONS + DICOM_EXTENSIONS)}, or a '
                    'DICOM folder)')
            volume = _read_dicom(path, series)
        else:
            if series is not None:
                raise VolumeError(f'{path} is not DICOM: --series {series} '
                                  'does not apply')
            image = sitk.ReadImage(path)
            dimension = min(image.GetDimension(), 3)
            if extension in ('.nii', '.nii.gz'):
                declared = _check_nifti(path, dimension)
            else:
                declared = _declares_spacing(path, extension, dimension)
            volume = Volume(image, path, spacing_declared=declared)
    except RuntimeError as err:  # SimpleITK's errors for unreadable files
        # The last line but an errno 'Reason:' (MetaImage says 'No such
        # file or directory' of a truncated file).
        lines = [
            line for line in str(err).strip().splitlines()
            if line.strip() and not line.startswith('Reason:')
        ]
        reason = lines[-1] if lines else type(err).__name__
        raise VolumeError(f'Cannot read volume {path}: it is corrupt, '
                          f'truncated or not a volume ({reason})') from err
    volume.image = choose_frame_component(volume.image, path, frame, component)
    return volume


def output_extension(source: str, fmt: str = '.nii.gz') -> str:
    """The extension of a mask written for ``source``.

    Args:
        source (str): The input volume.
        fmt (str): One of :data:`OUTPUT_FORMATS`, or ``'input'``: the
            input's own format (``.mhd`` -> ``.mha``, ``.nhdr`` ->
            ``.nrrd``, DICOM -> ``.mha``, whose text header keeps DICOM's
            double-precision geometry exactly; NIfTI stores float32).
    """
    if fmt != 'input':
        return fmt
    extension = volume_extension(source)
    return {
        None: '.mha',
        '.mhd': '.mha',
        '.nhdr': '.nrrd'
    }.get(extension, extension)


def strip_volume_extension(name: str) -> str:
    """``a/b.nii.gz`` -> ``a/b``; a name without a volume extension (a
    DICOM folder or file) loses its last extension only."""
    extension = volume_extension(name)
    if extension is not None:
        return name[:-len(extension)]
    return osp.splitext(name)[0]


def write_volume(image: sitk.Image, path: str, compress: bool = True) -> None:
    """Write a volume so that an interruption leaves no half-written file.

    SimpleITK writes a hidden file next to ``path`` with the same
    extension, which is then renamed onto ``path``.

    Args:
        image (sitk.Image): The volume.
        path (str): One of :data:`OUTPUT_FORMATS`; its folder is created if
            missing.
        compress (bool): Compress where the format can (``.nii.gz`` always
            is). Defaults to True.

    Raises:
        OSError: If the file cannot be written.
    """
    extension = volume_extension(path)
    if extension not in OUTPUT_FORMATS:
        raise ValueError(f'cannot write {path}: volumes are written as '
                         f'{", ".join(OUTPUT_FORMATS)}')
    folder, name = osp.split(path)
    os.makedirs(folder or '.', exist_ok=True)
    partial = osp.join(
        folder, f'.{name[:-len(extension)]}.{os.getpid()}.'
        f'{uuid.uuid4().hex[:8]}.part{extension}')
    try:
        sitk.WriteImage(image, partial, compress)
        os.replace(partial, path)
    except RuntimeError as err:
        raise OSError(f'could not write {path}: {err}') from err
    finally:
        if osp.exists(partial):
            os.remove(partial)


def image_like(array: np.ndarray, reference: sitk.Image) -> sitk.Image:
    """A SimpleITK image of ``array`` (the reference's array layout) with
    the reference's exact geometry."""
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(reference)
    return image


def geometry_differences(reference: sitk.Image,
                         other: sitk.Image,
                         tolerance: float = 1e-4) -> List[str]:
    """How the geometry of ``other`` differs from ``reference``'s.

    Sizes must be equal; spacings may differ by ``tolerance`` relative,
    origins by ``tolerance`` times the largest spacing (mm), direction
    cosines by ``tolerance``.

    Returns:
        list[str]: One phrase per difference (empty when they agree).
    """
    differences = []

    def describe(name: str, a, b) -> None:
        differences.append(f'{name} {tuple(round(v, 6) for v in a)} vs '
                           f'{tuple(round(v, 6) for v in b)}')

    if reference.GetSize() != other.GetSize():
        differences.append(f'size {reference.GetSize()} vs {other.GetSize()}')
        return differences
    spacing_a, spacing_b = map(np.array,
                               (reference.GetSpacing(), other.GetSpacing()))
    if not np.allclose(spacing_a, spacing_b, rtol=tolerance, atol=0):
        describe('spacing', spacing_a, spacing_b)
    scale = tolerance * float(spacing_a.max())
    if not np.allclose(
            reference.GetOrigin(), other.GetOrigin(), rtol=0, atol=scale):
        describe('origin', reference.GetOrigin(), other.GetOrigin())
    if not np.allclose(
            reference.GetDirection(), other.GetDirection(), rtol=0,
            atol=tolerance):
        describe('direction', reference.GetDirection(), other.GetDirection())
    return differences


def check_same_geometry(reference: sitk.Image,
                        other: sitk.Image,
                        reference_name: str,
                        other_name: str,
                        tolerance: float = 1e-4) -> None:
    """Refuse a volume that does not lie on its reference's voxels.

    Raises:
        VolumeError: Naming both volumes and every difference (see
            :func:`geometry_differences`).
    """
    differences = geometry_differences(reference, other, tolerance)
    if differences:
        raise VolumeError(
            f'{other_name} does not have the geometry of {reference_name}: ' +
            '; '.join(differences))
