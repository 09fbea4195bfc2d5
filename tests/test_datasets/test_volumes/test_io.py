# Copyright (c) OpenMMLab. All rights reserved.
import gc
import os

import nibabel
import numpy as np
import pytest
import SimpleITK as sitk

from mmvlsm.datasets.volumes import (VolumeError, check_same_geometry,
                                     geometry_differences, output_extension,
                                     read_volume, strip_volume_extension,
                                     write_volume)
from mmvlsm.datasets.volumes import io as volume_io
from mmvlsm.testing import make_volume, write_dicom_series

SPACING = (2.5, 0.75, 0.5)  # z, y, x
ORIGIN = (-12.5, 30.25, 7.0)
# 30 degrees about z, then a swap of y and z: not the identity, no symmetry.
C, S = np.cos(np.pi / 6), np.sin(np.pi / 6)
DIRECTION = tuple(
    np.array([[C, 0, -S], [S, 0, C], [0, -1, 0]]).ravel().tolist())
ARRAY = (np.arange(5 * 7 * 9, dtype=np.int16).reshape(5, 7, 9) * 7 - 1000)


def assert_same_image(image,
                      array,
                      spacing=SPACING,
                      origin=ORIGIN,
                      direction=DIRECTION):
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), array)
    assert image.GetSpacing() == pytest.approx(tuple(reversed(spacing)))
    assert image.GetOrigin() == pytest.approx(origin)
    assert image.GetDirection() == pytest.approx(direction, abs=1e-6)


@pytest.mark.parametrize('ext', ['.nii.gz', '.nii', '.mha', '.nrrd'])
def test_write_read_round_trip(tmp_path, ext):
    path = str(tmp_path / f'sub/vol{ext}')
    write_volume(make_volume(ARRAY, SPACING, ORIGIN, DIRECTION), path)
    volume = read_volume(path)
    assert_same_image(volume.image, ARRAY)
    assert volume.array.dtype == np.int16
    assert volume.spacing == pytest.approx(SPACING)
    assert volume.spacing_declared
    assert os.listdir(tmp_path / 'sub') == [f'vol{ext}']


@pytest.mark.parametrize('ext', ['.mhd', '.nhdr'])
def test_detached_header_round_trip(tmp_path, ext):
    path = str(tmp_path / f'vol{ext}')
    sitk.WriteImage(make_volume(ARRAY, SPACING, ORIGIN, DIRECTION), path)
    assert len(os.listdir(tmp_path)) == 2  # the header and its data file
    volume = read_volume(path)
    assert_same_image(volume.image, ARRAY)
    assert volume.spacing_declared


def test_mhd_without_its_raw_is_named(tmp_path):
    path = tmp_path / 'vol.mhd'
    sitk.WriteImage(make_volume(ARRAY), str(path))
    (tmp_path / 'vol.raw').unlink()
    with pytest.raises(VolumeError, match='vol.mhd'):
        read_volume(path)


def test_write_volume_failure_leaves_existing_file(tmp_path, monkeypatch):
    path = tmp_path / 'mask.nii.gz'
    write_volume(make_volume(ARRAY), str(path))
    before = path.read_bytes()

    def fail(image, name, compress):
        with open(name, 'wb') as f:
            f.write(b'half a volume')
        raise RuntimeError('disk full')

    monkeypatch.setattr(volume_io.sitk, 'WriteImage', fail)
    with pytest.raises(OSError, match='mask.nii.gz.*disk full'):
        write_volume(make_volume(ARRAY * 0), str(path))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ['mask.nii.gz']


def test_write_volume_interrupted_leaves_no_file(tmp_path, monkeypatch):

    def interrupt(image, name, compress):
        with open(name, 'wb') as f:
            f.write(b'half a volume')
        raise KeyboardInterrupt

    monkeypatch.setattr(volume_io.sitk, 'WriteImage', interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_volume(make_volume(ARRAY), str(tmp_path / 'mask.mha'))
    assert os.listdir(tmp_path) == []


def test_write_volume_refuses_other_formats(tmp_path):
    with pytest.raises(ValueError, match=r'vol\.mhd.*\.nii\.gz'):
        write_volume(make_volume(ARRAY), str(tmp_path / 'vol.mhd'))


def test_output_and_stripped_names():
    assert output_extension('a/b.mhd', 'input') == '.mha'
    assert output_extension('a/b.nhdr', 'input') == '.nrrd'
    assert output_extension('a/b.NII', 'input') == '.nii'
    assert output_extension('a/ct_folder', 'input') == '.mha'
    assert output_extension('a/b.nrrd', '.mha') == '.mha'
    assert strip_volume_extension('a/b.c.nii.gz') == 'a/b.c'
    assert strip_volume_extension('a/slice001.dcm') == 'a/slice001'


def test_geometry_differences():
    reference = make_volume(ARRAY, SPACING, ORIGIN, DIRECTION)
    assert geometry_differences(reference, reference) == []
    moved = make_volume(ARRAY, SPACING, (0.0, 30.25, 7.0), DIRECTION)
    resized = make_volume(ARRAY[:4], SPACING, ORIGIN, DIRECTION)
    assert geometry_differences(reference, moved) == [
        'origin (-12.5, 30.25, 7.0) vs (0.0, 30.25, 7.0)'
    ]
    assert geometry_differences(reference,
                                resized) == ['size (9, 7, 5) vs (9, 7, 4)']
    with pytest.raises(
            VolumeError,
            match='mask.nii does not have the '
            'geometry of ct.nii: origin'):
        check_same_geometry(reference, moved, 'ct.nii', 'mask.nii')


def series_folder(tmp_path, name='ct', **kwargs):
    folder = tmp_path / name
    uid = write_dicom_series(
        ARRAY,
        str(folder),
        spacing=SPACING,
        origin=ORIGIN,
        direction=DIRECTION,
        rescale=(1.0, -1024.0),
        **kwargs)
    return folder, uid


def test_dicom_series_hu_and_geometry(tmp_path):
    folder, uid = series_folder(tmp_path, description='abdomen')
    volume = read_volume(folder)
    assert_same_image(volume.image, ARRAY)
    assert (volume.modality, volume.series_uid) == ('CT', uid)
    assert volume.spacing_declared
    assert len(volume.files) == 5
    one_file = read_volume(folder / 'slice002.dcm')
    np.testing.assert_array_equal(one_file.array, volume.array)
    assert one_file.image.GetOrigin() == volume.image.GetOrigin()
    assert one_file.files == volume.files


def test_dicom_series_with_fractional_slope(tmp_path):
    values = ARRAY[:2] * 0.5
    write_dicom_series(values, str(tmp_path), rescale=(0.5, -3000.0))
    np.testing.assert_array_equal(read_volume(tmp_path).array, values)


def test_dicom_file_in_the_current_folder(tmp_path, monkeypatch):
    folder, uid = series_folder(tmp_path)
    monkeypatch.chdir(folder)
    assert read_volume('slice000.dcm').series_uid == uid


def test_dicom_folder_with_two_series(tmp_path):
    folder, first = series_folder(tmp_path, description='arterial')
    second = write_dicom_series(
        ARRAY[:3] + 5, str(folder), description='venous', file_prefix='v')
    with pytest.raises(VolumeError) as info:
        read_volume(folder)
    message = str(info.value)
    assert f'{first} "arterial", 5 slices' in message
    assert f'{second} "venous", 3 slices' in message
    assert 'holds 2 DICOM series' in message
    chosen = read_volume(folder, series=second)
    np.testing.assert_array_equal(chosen.array, ARRAY[:3] + 5)
    assert chosen.series_uid == second
    np.testing.assert_array_equal(
        read_volume(folder / 'v001.dcm').array, ARRAY[:3] + 5)
    np.testing.assert_array_equal(
        read_volume(folder / 'slice004.dcm').array, ARRAY)
    with pytest.raises(VolumeError, match=f'no DICOM series 1.2.3.*{first}'):
        read_volume(folder, series='1.2.3')


def test_unreadable_dicom_file_is_named(tmp_path):
    path = tmp_path / 'broken.dcm'
    path.write_bytes(b'\0' * 300)
    with pytest.raises(VolumeError, match='broken.dcm is not a readable'):
        read_volume(path)
    with pytest.raises(VolumeError, match='holds no DICOM series'):
        read_volume(tmp_path)


def four_d():
    array = np.arange(3 * 2 * 4 * 5, dtype=np.float32).reshape(3, 2, 4, 5)
    return array, sitk.GetImageFromArray(array, isVector=False)


@pytest.mark.parametrize('ext', ['.nii.gz', '.mha', '.nrrd'])
def test_4d_needs_a_frame(tmp_path, ext):
    array, image = four_d()
    path = str(tmp_path / f'cine{ext}')
    sitk.WriteImage(image, path)
    with pytest.raises(
            VolumeError,
            match=r'is 4D \(size x, y, z, t = \(5, 4, 2, 3\)\); '
            'choose a frame with --frame 0..2'):
        read_volume(path)
    with pytest.raises(VolumeError, match='frame 3 is not in 0..2'):
        read_volume(path, frame=3)
    volume = read_volume(path, frame=2)
    assert volume.image.GetDimension() == 3
    np.testing.assert_array_equal(volume.array, array[2])


def test_frame_of_a_3d_volume_is_refused(tmp_path):
    path = str(tmp_path / 'vol.nrrd')
    write_volume(make_volume(ARRAY), path)
    with pytest.raises(VolumeError, match='is 3D: it has no frames'):
        read_volume(path, frame=0)


@pytest.mark.parametrize('ext', ['.nii.gz', '.mha', '.nrrd'])
def test_vector_volume_needs_a_component(tmp_path, ext):
    path = str(tmp_path / f'rgb{ext}')
    parts = [ARRAY[:2] + 100 * i for i in range(3)]
    sitk.WriteImage(
        sitk.Compose([sitk.GetImageFromArray(p) for p in parts]), path)
    with pytest.raises(
            VolumeError, match='has 3 components per voxel.*--component 0..2'):
        read_volume(path)
    with pytest.raises(VolumeError, match='component 3 is not in 0..2'):
        read_volume(path, component=3)
    np.testing.assert_array_equal(
        read_volume(path, component=1).array, parts[1])


def test_component_of_a_scalar_volume_is_refused(tmp_path):
    path = str(tmp_path / 'vol.mha')
    write_volume(make_volume(ARRAY), path)
    assert read_volume(path, component=0).image.GetDimension() == 3
    with pytest.raises(VolumeError, match='has one component per voxel'):
        read_volume(path, component=1)


@pytest.mark.parametrize('ext', ['.nii.gz', '.nii', '.mha', '.nrrd'])
def test_truncated_file_is_named(tmp_path, ext):
    path = tmp_path / f'vol{ext}'
    write_volume(make_volume(ARRAY), str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(VolumeError, match=f'vol{ext}.*truncated'):
        read_volume(path)


@pytest.mark.parametrize('ext', ['.nii.gz', '.nii', '.mha', '.nrrd'])
def test_corrupt_file_is_named(tmp_path, ext):
    path = tmp_path / f'vol{ext}'
    path.write_bytes(b'\x00not a volume' * 40)
    with pytest.raises(VolumeError, match=f'Cannot read volume .*vol{ext}'):
        read_volume(path)


def test_missing_and_non_volume_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='absent.nii.gz'):
        read_volume(tmp_path / 'absent.nii.gz')
    notes = tmp_path / 'notes.txt'
    notes.write_text('not a scan')
    with pytest.raises(VolumeError, match='notes.txt is not a volume'):
        read_volume(notes)


def test_series_of_a_non_dicom_file_is_refused(tmp_path):
    path = str(tmp_path / 'vol.nii.gz')
    write_volume(make_volume(ARRAY), path)
    with pytest.raises(VolumeError, match='is not DICOM: --series 1.2'):
        read_volume(path, series='1.2')


def write_nifti(path, pixdim):
    image = nibabel.Nifti1Image(ARRAY.transpose(2, 1, 0), np.eye(4))
    nibabel.save(image, path)
    # nibabel replaces a zero pixdim by 1 when saving: patch the stored one.
    data = bytearray(open(path, 'rb').read())
    data[80:92] = np.asarray(pixdim, '<f4').tobytes()
    open(path, 'wb').write(bytes(data))


def test_spacing_declared_nifti(tmp_path):
    without = str(tmp_path / 'without.nii')
    write_nifti(without, (0, 0, 0))
    volume = read_volume(without)
    assert not volume.spacing_declared
    assert volume.image.GetSpacing() == (1.0, 1.0, 1.0)
    np.testing.assert_array_equal(volume.array, ARRAY)
    stated = str(tmp_path / 'stated.nii')
    write_nifti(stated, (0.5, 0.75, 2.5))
    assert read_volume(stated).spacing_declared


NRRD_HEADER = ('NRRD0004\ntype: short\ndimension: 3\nsizes: 9 7 5\n{}'
               'endian: little\nencoding: raw\n\n')
MHA_HEADER = ('ObjectType = Image\nNDims = 3\nDimSize = 9 7 5\n{}'
              'ElementType = MET_SHORT\nElementByteOrderMSB = False\n'
              'ElementDataFile = LOCAL\n')


@pytest.mark.parametrize('name,header,line', [
    ('vol.nrrd', NRRD_HEADER, 'spacings: 0.5 0.75 2.5\n'),
    ('vol.nrrd', NRRD_HEADER, 'space: left-posterior-superior\n'
     'space directions: (0.5,0,0) (0,0.75,0) (0,0,2.5)\n'),
    ('vol.mha', MHA_HEADER, 'ElementSpacing = 0.5 0.75 2.5\n'),
])
def test_spacing_declared_by_header(tmp_path, name, header, line):
    without, stated = tmp_path / f'without_{name}', tmp_path / name
    without.write_bytes(header.format('').encode() + ARRAY.tobytes())
    stated.write_bytes(header.format(line).encode() + ARRAY.tobytes())
    volume = read_volume(without)
    assert not volume.spacing_declared
    np.testing.assert_array_equal(volume.array, ARRAY)
    volume = read_volume(stated)
    assert volume.spacing_declared
    assert volume.spacing == pytest.approx((2.5, 0.75, 0.5))


def test_volume_array_outlives_the_volume(tmp_path):
    path = str(tmp_path / 'vol.mha')
    write_volume(make_volume(ARRAY), path)
    array = read_volume(path).array  # the Volume is freed at once
    gc.collect()
    np.testing.assert_array_equal(array, ARRAY)
    assert not array.flags.writeable
