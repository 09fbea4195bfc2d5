# Copyright (c) OpenMMLab. All rights reserved.
import numpy as np
import pytest
import SimpleITK as sitk

from mmvlsm.datasets.volumes import AXES, slice_layout
from mmvlsm.testing import make_volume

# Canonical LPS storage: array (z, y, x) with z up, y to the back, x to the
# patient's left; sizes all differ so a wrong transpose cannot pass.
SHAPE = (5, 6, 7)
SPACING = (3.0, 2.0, 1.0)
ANATOMY = np.random.default_rng(0).integers(0, 1000, SHAPE).astype(np.int16)


def stored(array_order, flips):
    """The anatomy stored with its array axes in ``array_order`` (of the
    canonical z, y, x) and ``flips`` (axes of the stored array) reversed,
    with the geometry that keeps every voxel where it was."""
    reference = make_volume(ANATOMY, SPACING)
    array = ANATOMY.transpose(array_order)
    for axis in flips:
        array = np.flip(array, axis)
    # Index axis j of the stored image (array axis 2 - j) walks along
    # canonical array axis array_order[2 - j], i.e. ITK axis
    # 2 - array_order[2 - j], backwards when flipped.
    columns, spacing_zyx = [], []
    corner = [0, 0, 0]  # reference ITK index of the stored voxel (0, 0, 0)
    for j in range(3):
        itk_axis = 2 - array_order[2 - j]
        sign = -1.0 if (2 - j) in flips else 1.0
        columns.append(sign * np.eye(3)[itk_axis])
        if sign < 0:
            corner[itk_axis] = reference.GetSize()[itk_axis] - 1
    for a in range(3):
        spacing_zyx.append(SPACING[array_order[a]])
    direction = np.stack(columns, axis=1).ravel()
    origin = reference.TransformIndexToPhysicalPoint(corner)
    image = make_volume(array.copy(), spacing_zyx, origin, direction)
    # The same anatomy: resampled onto the reference grid, it is the same.
    back = sitk.Resample(image, reference, sitk.Transform(),
                         sitk.sitkNearestNeighbor)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), ANATOMY)
    return image


def stacks(image):
    array = sitk.GetArrayViewFromImage(image)
    return {
        axis: slice_layout(image.GetDirection(), axis).stack(array).copy()
        for axis in AXES
    }


def rotation(degrees):
    """A rotation about an oblique axis, as a row-major direction."""
    t = np.deg2rad(degrees)
    c, s = np.cos(t), np.sin(t)
    about_x = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    about_z = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return about_z @ about_x


@pytest.mark.parametrize(
    'array_order,flips',
    [
        ((0, 1, 2), (1, 2)),  # RAS: x and y reversed
        ((0, 1, 2), (0, )),  # slices stored superior to inferior
        ((1, 0, 2), (1, )),  # coronal slices, rows superior first
        ((2, 0, 1), (1, 2)),  # sagittal slices
        ((2, 1, 0), (0, 1, 2)),  # every axis moved and reversed
    ])
def test_same_anatomy_same_slices(array_order, flips):
    expected = stacks(make_volume(ANATOMY, SPACING))
    got = stacks(stored(array_order, flips))
    for axis in AXES:
        np.testing.assert_array_equal(got[axis], expected[axis], err_msg=axis)


@pytest.mark.parametrize('array_order,flips', [((0, 1, 2), ()),
                                               ((1, 0, 2), (1, ))])
def test_oblique_scan_slices_like_its_nearest_axes(array_order, flips):
    image = stored(array_order, flips)
    expected = stacks(image)
    tilted = np.asarray(image.GetDirection()).reshape(3, 3)
    image.SetDirection((rotation(10) @ tilted).ravel())
    got = stacks(image)
    for axis in AXES:
        np.testing.assert_array_equal(got[axis], expected[axis], err_msg=axis)


def test_radiological_in_plane_orientation():
    array = np.zeros(SHAPE, np.uint8)
    array[2, 0, 3] = 1  # most anterior
    array[2, 3, 0] = 2  # most to the patient's right
    array[4, 3, 3] = 3  # most superior
    layout = {axis: slice_layout(np.eye(3).ravel(), axis) for axis in AXES}

    def where(axis, value):
        return tuple(np.argwhere(layout[axis].stack(array) == value)[0])

    # Axial: slices inferior to superior, anterior at the top, the
    # patient's right on the left.
    assert where('axial', 3)[0] == SHAPE[0] - 1
    assert where('axial', 1)[1] == 0
    assert where('axial', 2)[2] == 0
    # Coronal: slices anterior to posterior, superior at the top, right on
    # the left.
    assert where('coronal', 1)[0] == 0
    assert where('coronal', 3)[1] == 0
    assert where('coronal', 2)[2] == 0
    # Sagittal: slices right to left, superior at the top, anterior on the
    # left.
    assert where('sagittal', 2)[0] == 0
    assert where('sagittal', 3)[1] == 0
    assert where('sagittal', 1)[2] == 0
    assert layout['coronal'].shape(SHAPE) == (6, 5, 7)
    assert layout['sagittal'].shape(SHAPE) == (7, 5, 6)


def test_stack_is_a_view_of_the_mask():
    image = stored((1, 0, 2), (1, ))
    mask = np.zeros(sitk.GetArrayViewFromImage(image).shape, np.uint8)
    for value, axis in enumerate(AXES, 1):
        layout = slice_layout(image.GetDirection(), axis)
        layout.stack(mask)[1, 2, 3] = value
        assert np.count_nonzero(mask == value) == 1
        assert layout.stack(mask)[1, 2, 3] == value


def test_unknown_axis_is_refused():
    with pytest.raises(ValueError, match="axis must be one of .*'oblique'"):
        slice_layout(np.eye(3).ravel(), 'oblique')
