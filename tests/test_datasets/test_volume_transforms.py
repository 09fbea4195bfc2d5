# Copyright (c) OpenMMLab. All rights reserved.
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose

from mmvlsm.datasets.transforms import (BinarizeActiveClass,
                                        LoadVolumeAnnotations,
                                        LoadVolumeFromFile, PackVolumeInputs,
                                        RandomVolumeCrop)
from mmvlsm.datasets.volumes import IntensityWindow, VolumeError
from mmvlsm.structures import VolumeData
from .conftest import save_volume, volume_arrays

# RAS storage: x and y reversed, so the same anatomy flips both array axes.
RAS = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)


def load(img_path, seg_map_path=None, num_classes=4):
    results = LoadVolumeFromFile()(dict(img_path=str(img_path)))
    if seg_map_path is not None:
        results = LoadVolumeAnnotations()(
            dict(
                results,
                seg_map_path=str(seg_map_path),
                num_classes=num_classes))
    return results


def test_layout_is_the_same_for_any_stored_orientation(tmp_path):
    hu, labels = volume_arrays()
    save_volume(tmp_path / 'lps.nii.gz', hu)
    save_volume(tmp_path / 'lps_label.nii.gz', labels)
    # The RAS copy's origin puts its first voxel where LPS's last is.
    origin = ((5 - 1) * 0.8, (6 - 1) * 0.9, 0.0)
    for name, data in (('ras.nii.gz', hu), ('ras_label.nii.gz', labels)):
        save_volume(
            tmp_path / name, data[:, ::-1, ::-1], direction=RAS, origin=origin)
    lps = load(tmp_path / 'lps.nii.gz', tmp_path / 'lps_label.nii.gz')
    ras = load(tmp_path / 'ras.nii.gz', tmp_path / 'ras_label.nii.gz')
    # (H, W, D) = (rows y, columns x, slices z) of the LPS array.
    expected = np.moveaxis(
        IntensityWindow(0, 2000).resolve(hu).to_uint8(hu), 0, -1)
    for results in (lps, ras):
        assert results['img'].dtype == np.uint8
        assert results['img'].flags.c_contiguous
        assert np.array_equal(results['img'], expected)
        assert np.array_equal(results['gt_seg_map'],
                              np.moveaxis(labels, 0, -1))
        assert results['gt_seg_map'].dtype == np.uint8
        assert results['ori_shape'] == results['img_shape'] == (6, 5, 3)
        assert results['spacing'] == pytest.approx((0.9, 0.8, 2.5))
        assert results['seg_fields'] == ['gt_seg_map']
    # Another window: [-550, -250] HU; the volume spans -500..-246.
    narrow = LoadVolumeFromFile(window=(-400, 300))(
        dict(img_path=str(tmp_path / 'ras.nii.gz')))
    assert narrow['img'].max() == 255 > lps['img'].max()


def test_labels_off_the_image_geometry_are_refused(tmp_path):
    hu, labels = volume_arrays()
    image = save_volume(tmp_path / 'image.nii.gz', hu)
    spaced = save_volume(
        tmp_path / 'spaced.nii.gz', labels, spacing=(1.0, 0.9, 2.5))
    with pytest.raises(VolumeError, match='spacing') as err:
        load(image, spaced)
    assert 'spaced.nii.gz' in str(err.value)
    assert 'image.nii.gz' in str(err.value)
    small = save_volume(tmp_path / 'small.nii.gz', labels[:2])
    with pytest.raises(
            VolumeError,
            match='small.nii.gz does not have the '
            'geometry of .*image.nii.gz: size'):
        load(image, small)


def test_label_values_outside_the_classes_are_refused(tmp_path):
    hu, labels = volume_arrays()
    image = save_volume(tmp_path / 'image.nii.gz', hu)
    labels[0, 0, 0] = 7
    bad = save_volume(tmp_path / 'bad.nii.gz', labels)
    with pytest.raises(
            VolumeError,
            match=r'bad.nii.gz holds label values \[7\] outside the classes '
            '0..3'):
        load(image, bad)
    assert load(image, bad, num_classes=8)['gt_seg_map'].max() == 7
    fractional = save_volume(tmp_path / 'float.nii.gz',
                             labels.astype(np.float32) + 0.5)
    with pytest.raises(
            VolumeError,
            match='float.nii.gz holds label values '
            'that are not class indices'):
        load(image, fractional, num_classes=8)
    with pytest.raises(KeyError, match='LoadVolumeFromFile first'):
        LoadVolumeAnnotations()(dict(seg_map_path=bad, num_classes=4))


def test_crop_pads_a_small_volume():
    img = np.arange(4 * 5 * 2, dtype=np.uint8).reshape(4, 5, 2) + 10
    labels = np.ones(img.shape, np.uint8)
    results = RandomVolumeCrop((6, 5, 5))(
        dict(img=img, gt_seg_map=labels, seg_fields=['gt_seg_map']))
    assert results['img'].shape == results['gt_seg_map'].shape == (6, 5, 5)
    assert results['img_shape'] == (6, 5, 5)
    # Centred, the odd voxel after; the image minimum and background
    # around.
    assert np.array_equal(results['img'][1:5, :, 1:3], img)
    assert (results['gt_seg_map'][1:5, :, 1:3] == 1).all()
    assert results['gt_seg_map'].sum() == labels.sum()
    assert (results['img'][0] == 10).all() and (results['img'][..., 3:]
                                                == 10).all()
    # Larger axes are cropped at random offsets, image and labels alike.
    np.random.seed(0)
    big = np.random.randint(0, 255, (9, 8, 7)).astype(np.uint8)
    offsets = set()
    for _ in range(20):
        out = RandomVolumeCrop((4, 8, 3))(
            dict(img=big, gt_seg_map=big.copy(), seg_fields=['gt_seg_map']))
        assert np.array_equal(out['img'], out['gt_seg_map'])
        matches = [(i, k) for i in range(6) for k in range(5)
                   if np.array_equal(big[i:i + 4, :, k:k + 3], out['img'])]
        offsets.update(matches)
    assert len(offsets) > 3
    with pytest.raises(ValueError, match='three positive ints'):
        RandomVolumeCrop((4, 4))


def test_pack_gives_the_model_interface(tmp_path):
    hu, labels = volume_arrays()
    image = save_volume(tmp_path / 'image.nii.gz', hu)
    label = save_volume(tmp_path / 'label.nii.gz', labels)
    pipeline = Compose([
        dict(type='LoadVolumeFromFile'),
        dict(type='LoadVolumeAnnotations'),
        dict(type='BinarizeActiveClass'),
        dict(type='RandomVolumeCrop', crop_size=(4, 4, 2)),
        dict(type='PackVolumeInputs'),
    ])
    packed = pipeline(
        dict(
            img_path=image,
            seg_map_path=label,
            num_classes=4,
            active_class=1,
            subject='s1',
            dataset_name='organs-liver',
            img_name='image.nii.gz',
            mask_name='label.nii.gz'))
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.shape == (1, 4, 4, 2) and inputs.dtype == torch.uint8
    assert isinstance(sample.gt_sem_seg, VolumeData)
    target = sample.gt_sem_seg.data
    assert target.shape == (1, 4, 4, 2) and target.dtype == torch.int64
    assert set(target.unique().tolist()) <= {0, 1}
    assert sample.metainfo == dict(
        img_path=image,
        seg_map_path=label,
        ori_shape=(6, 5, 3),
        img_shape=(4, 4, 2),
        spacing=pytest.approx((0.9, 0.8, 2.5)),
        img_name='image.nii.gz',
        mask_name='label.nii.gz',
        dataset_name='organs-liver',
        subject='s1',
        active_class=1)
    # Without labels (inference) only the image is packed.
    unlabelled = PackVolumeInputs()(dict(img=np.zeros((2, 3, 4), np.uint8)))
    assert unlabelled['inputs'].shape == (1, 2, 3, 4)
    assert 'gt_sem_seg' not in unlabelled['data_samples']


def test_binarize_active_class_on_volumes():
    labels = np.array([0, 1, 2, 3] * 6, np.uint8).reshape(2, 3, 4)
    out = BinarizeActiveClass()(dict(gt_seg_map=labels, active_class=2))
    assert out['gt_seg_map'].shape == (2, 3, 4)
    assert np.array_equal(out['gt_seg_map'], (labels == 2).astype(np.uint8))
