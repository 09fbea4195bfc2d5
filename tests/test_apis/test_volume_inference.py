# Copyright (c) OpenMMLab. All rights reserved.
"""Volumes through ``inference_model``: geometry, slices, prompts, PUNet."""
import os.path as osp

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from mmvlsm.apis import (VolumeSegmentation, combine_prompts,
                         foreground_probability, inference_model, init_model)
from mmvlsm.datasets.volumes import (AXES, VolumeError, parse_window,
                                     read_volume, slice_layout)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'quickstart',
                  'clipseg-tiny_1xb16-650it_toy-shapes-128x128.py')
PUNET_CONFIG = osp.join(REPO, 'configs', 'punet',
                        'punet-tiny-meta-self_1xb8-200it_toy-organs-64x64.py')
# An oblique direction: LPS rotated by 10 degrees about z, then x flipped.
ANGLE = np.deg2rad(10)
OBLIQUE = (-np.cos(ANGLE), -np.sin(ANGLE), 0, -np.sin(ANGLE), np.cos(ANGLE), 0,
           0, 0, 1)


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_model(CONFIG)


@pytest.fixture(scope='module')
def punet():
    torch.manual_seed(0)
    return init_model(PUNET_CONFIG)


def ct_volume(shape=(5, 23, 30), seed=0) -> np.ndarray:
    """int16 HU: air around a body with a brighter blob, odd sizes."""
    rng = np.random.RandomState(seed)
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    body = ((y - shape[1] / 2) /
            (shape[1] * 0.4))**2 + ((x - shape[2] / 2) /
                                    (shape[2] * 0.4))**2 < 1
    organ = ((y - shape[1] * 0.4)**2 +
             (x - shape[2] * 0.6)**2 < (shape[1] * 0.15)**2) & (
                 z >= 1)
    hu = np.where(body, 40, -1000) + np.where(organ, 150, 0)
    return (hu + rng.randint(-30, 30, shape)).astype(np.int16)


def make_image(array,
               spacing=(0.8, 0.9, 2.5),
               direction=None,
               origin=(12.5, -40.0, 7.25)):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    return image


def geometry(image):
    return (image.GetSize(), image.GetSpacing(), image.GetOrigin(),
            image.GetDirection())


@pytest.mark.parametrize('extension', ['.nii.gz', '.nrrd', '.mha'])
def test_mask_has_the_exact_geometry_of_the_input(model, tmp_path, extension):
    path = str(tmp_path / f'scan{extension}')
    sitk.WriteImage(make_image(ct_volume(), direction=OBLIQUE), path)
    source = sitk.ReadImage(path)
    result = inference_model(model, path, 'liver', window='abdomen')
    assert isinstance(result, VolumeSegmentation)
    assert geometry(result.mask) == geometry(source)
    assert result.mask.GetPixelID() == sitk.sitkUInt8
    assert set(np.unique(result.mask_array)) <= {0, 1}
    assert result.window == dict(
        kind='window',
        name='abdomen',
        level=50.0,
        width=400.0,
        low=-150.0,
        high=250.0)
    assert result.legend() == {'0': 'background', '1': 'liver'}


@pytest.mark.parametrize('axis', AXES)
def test_slices_segment_as_2d_images_bit_for_bit(model, axis):
    image = make_image(ct_volume(), direction=OBLIQUE)
    result = inference_model(
        model, image, 'liver', batch_size=3, axis=axis, return_probs=True)
    window = parse_window(None).resolve(sitk.GetArrayViewFromImage(image))
    layout = slice_layout(image.GetDirection(), axis)
    slices = [
        window.to_uint8(s)
        for s in layout.stack(sitk.GetArrayViewFromImage(image))
    ]
    samples = inference_model(model, slices, 'liver', batch_size=3)
    expected = np.stack([s.pred_sem_seg.data[0].numpy() for s in samples])
    np.testing.assert_array_equal(layout.stack(result.mask_array), expected)
    probs = np.stack([foreground_probability(s).numpy() for s in samples])
    np.testing.assert_array_equal(
        layout.stack(result.probabilities[0]), probs.astype(np.float16))
    # Not a constant mask: the comparison means something.
    assert 0 < probs.min() < probs.max() < 1
    assert result.axis == axis


def test_lps_ras_and_flipped_files_give_the_same_slices(model):
    array = ct_volume()
    lps = make_image(array)
    # The same anatomy stored RAS (x, y reversed) and with z reversed.
    ras = make_image(
        np.ascontiguousarray(array[:, ::-1, ::-1]),
        direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1))
    z_flipped = make_image(
        np.ascontiguousarray(array[::-1]),
        direction=(1, 0, 0, 0, 1, 0, 0, 0, -1))
    for axis in AXES:
        stacks = []
        for image in (lps, ras, z_flipped):
            result = inference_model(
                model, image, 'liver', axis=axis, return_probs=True)
            layout = slice_layout(image.GetDirection(), axis)
            stacks.append(layout.stack(result.probabilities[0]))
        np.testing.assert_array_equal(stacks[0], stacks[1])
        np.testing.assert_array_equal(stacks[0], stacks[2])
    # And the stored arrays are each other's flips.
    lps_mask = inference_model(model, lps, 'liver').mask_array
    ras_mask = inference_model(model, ras, 'liver').mask_array
    np.testing.assert_array_equal(ras_mask, lps_mask[:, ::-1, ::-1])


def test_combine_prompts_labels_the_more_probable_prompt():
    masks = [np.array([[1, 1, 0, 0]]), np.array([[0, 1, 1, 0]])]
    probs = [np.array([[.9, .6, .1, .2]]), np.array([[.1, .7, .8, .3]])]
    np.testing.assert_array_equal(
        combine_prompts(masks, probs), [[1, 2, 2, 0]])
    # A tie goes to the first prompt; one prompt is its own mask.
    assert combine_prompts([np.ones((1, 1)), np.ones(
        (1, 1))], [np.full(
            (1, 1), .7), np.full((1, 1), .7)]) == 1
    assert combine_prompts([masks[0]], [probs[0]]).dtype == np.uint8


def test_several_prompts_give_a_label_map_and_legend(model):
    image = make_image(ct_volume())
    prompts = ['liver', 'red circle', 'blue square']
    both = inference_model(model, image, prompts, return_probs=True)
    singles = [inference_model(model, image, p) for p in prompts]
    assert both.legend() == {
        '0': 'background',
        '1': 'liver',
        '2': 'red circle',
        '3': 'blue square'
    }
    masks = np.stack([s.mask_array for s in singles]).astype(bool)
    labels = both.mask_array
    # Background where no prompt claims a voxel, else a prompt that does
    # and is the most probable (the probabilities are kept in float16, the
    # choice was made in float32).
    np.testing.assert_array_equal(labels == 0, ~masks.any(axis=0))
    chosen = np.take_along_axis(masks, (labels.astype(int) - 1).clip(0)[None],
                                0)[0]
    assert chosen[labels > 0].all()
    claimed = np.where(masks, both.probabilities.astype(np.float32), -1)
    best = np.take_along_axis(claimed, (labels.astype(int) - 1).clip(0)[None],
                              0)[0]
    assert (best[labels > 0] >= claimed.max(0)[labels > 0] - 1e-3).all()
    assert len(np.unique(labels)) == 4
    assert geometry(both.mask) == geometry(image)
    assert both.probabilities.shape == (3, ) + ct_volume().shape


def test_array_with_spacing_and_mixed_lists(model, tmp_path):
    array = ct_volume()
    result = inference_model(model, array, 'liver', spacing=(2.5, 0.9, 0.8))
    assert result.mask.GetSpacing() == (0.8, 0.9, 2.5)
    np.testing.assert_array_equal(
        result.mask_array,
        inference_model(model, make_image(array, origin=(0, 0, 0)),
                        'liver').mask_array)
    path = str(tmp_path / 'scan.nii.gz')
    sitk.WriteImage(make_image(array), path)
    picture = np.zeros((9, 11, 3), np.uint8)
    mixed = inference_model(model, [picture, path], 'liver')
    assert mixed[0].pred_sem_seg.data.shape == (1, 9, 11)
    assert isinstance(mixed[1], VolumeSegmentation)
    # Without spacing an array is an image: (3, H, W) stays refused.
    with pytest.raises(ValueError, match='shape'):
        inference_model(model, np.zeros((3, 8, 8), np.uint8), 'liver')
    with pytest.raises(ValueError, match='spacing'):
        inference_model(model, array, 'liver', spacing=(1, 1))


def test_a_read_volume_is_segmented_as_its_file(model, tmp_path):
    path = str(tmp_path / 'scan.nrrd')
    sitk.WriteImage(make_image(ct_volume()), path)
    np.testing.assert_array_equal(
        inference_model(model, read_volume(path), 'liver').mask_array,
        inference_model(model, path, 'liver').mask_array)


def test_volume_errors_name_the_input(model, tmp_path):
    broken = tmp_path / 'broken.nii.gz'
    broken.write_bytes(b'\x1f\x8b not really gzip')
    with pytest.raises(VolumeError, match='broken.nii.gz'):
        inference_model(model, str(broken), 'liver')
    # SimpleITK zero-fills a truncated NIfTI; it is refused instead.
    for name in ('cut.nii', 'cut.nii.gz'):
        sitk.WriteImage(make_image(ct_volume()), str(tmp_path / name))
        data = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(data[:len(data) * 2 // 3])
        with pytest.raises(VolumeError, match=f'{name}: it is (corrupt or )?truncated'):
            inference_model(model, str(tmp_path / name), 'liver')
    four_d = sitk.JoinSeries([make_image(ct_volume())] * 2)
    with pytest.raises(VolumeError, match='4D'):
        inference_model(model, four_d, 'liver')
    assert inference_model(
        model, four_d, 'liver', frame=1).mask.GetDimension() == 3
    with pytest.raises(ValueError, match='unknown window'):
        inference_model(model, four_d, 'liver', frame=0, window='liver')


def test_punet_segments_a_volume_by_class(punet):
    image = make_image(ct_volume())
    by_name = inference_model(punet, image, 'spleen', return_probs=True)
    by_index = inference_model(punet, image, 2)
    np.testing.assert_array_equal(by_name.mask_array, by_index.mask_array)
    assert by_name.legend() == {'0': 'background', '1': 'spleen'}
    # The config's HU window (that of its PNG slices) is the default.
    assert (by_name.window['low'], by_name.window['high']) == (-1000, 1000)
    # Each slice as a grey 2D image with the class index, bit for bit.
    window = parse_window(dict(level=0, width=2000)).resolve(None)
    slices = [window.to_uint8(s) for s in sitk.GetArrayViewFromImage(image)]
    samples = inference_model(punet, slices, 2)
    np.testing.assert_array_equal(
        by_name.mask_array,
        np.stack([s.pred_sem_seg.data[0].numpy() for s in samples]))
    probs = np.stack([foreground_probability(s).numpy() for s in samples])
    np.testing.assert_array_equal(by_name.probabilities[0],
                                  probs.astype(np.float16))
    assert 0 < probs.min() < probs.max() < 1
    # Another class is another prompt.
    liver = inference_model(punet, image, 'liver', return_probs=True)
    assert not np.array_equal(liver.probabilities, by_name.probabilities)
    labels = inference_model(punet, image, ['liver', 'spleen'])
    assert labels.legend() == {'0': 'background', '1': 'liver', '2': 'spleen'}


@pytest.mark.parametrize('prompt, error, message', [
    ('pancreas', ValueError, "unknown class 'pancreas'.*liver, spleen"),
    (0, ValueError, '0 is the background'),
    (9, ValueError, 'class index 9 is not one of'),
    (1.5, TypeError, 'name or an index'),
])
def test_punet_classes_are_checked(punet, prompt, error, message):
    with pytest.raises(error, match=message):
        inference_model(punet, np.zeros((16, 16), np.uint8), prompt)
