# Copyright (c) OpenMMLab. All rights reserved.
import logging
from unittest.mock import patch

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile, RandomFlip
from mmengine.registry import DefaultScope

from mmvlsm.datasets.transforms import (LetterBoxResize, LoadBinaryMask,
                                        LoadCheckedImageFromFile,
                                        TextAwareRandomFlip,
                                        swap_position_words)
from mmvlsm.datasets.transforms.geometric import CLIP_MEAN_BGR
from mmvlsm.registry import TRANSFORMS, classification

PRINT_LOG = 'mmvlsm.datasets.transforms.loading.print_log'


def _disk(h=40, w=60):
    """A 0/255 mask with an off-centre disk."""
    mask = np.zeros((h, w), np.uint8)
    cv2.circle(mask, (20, 18), 11, 255, -1)
    return mask


def _load_mask(path, ori_shape=None):
    results = dict(seg_map_path=str(path), img_path='img.png')
    if ori_shape is not None:
        results['ori_shape'] = ori_shape
    return LoadBinaryMask()(results)


@pytest.mark.parametrize('scale, suffix', [(1, '.png'), (255, '.png'),
                                           (255, '.jpg')])
def test_mask_is_binarised(tmp_path, scale, suffix):
    truth = _disk() // 255
    path = tmp_path / f'mask{suffix}'
    params = [cv2.IMWRITE_JPEG_QUALITY, 40] if suffix == '.jpg' else []
    cv2.imwrite(str(path), truth * scale, params)
    stored = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if suffix == '.jpg':
        # Lossy: the stored values are not 0/255 any more.
        assert len(np.unique(stored)) > 2
    results = _load_mask(path, ori_shape=(40, 60))
    gt = results['gt_seg_map']
    assert gt.dtype == np.uint8 and gt.shape == (40, 60)
    assert set(np.unique(gt).tolist()) == {0, 1}
    assert (gt != truth).mean() < 0.01
    assert results['seg_fields'] == ['gt_seg_map']


def _warnings(print_log):
    return [
        str(call.args[0]) for call in print_log.call_args_list
        if call.kwargs.get('level') == logging.WARNING
    ]


def test_colour_mask_reduced_with_one_warning(tmp_path):
    truth = _disk() // 255
    red = np.zeros((40, 60, 3), np.uint8)
    red[..., 2] = truth * 200  # BGR: red on black
    loader = LoadBinaryMask()
    with patch(PRINT_LOG) as print_log:
        for name in ('red_1.png', 'red_2.png'):
            cv2.imwrite(str(tmp_path / name), red)
            gt = loader(dict(seg_map_path=str(tmp_path / name)))['gt_seg_map']
            np.testing.assert_array_equal(gt, truth)
    (warning, ) = _warnings(print_log)
    assert 'red_1.png' in warning and 'any channel' in warning

    # A grey mask stored as RGB is not a colour mask: no warning.
    cv2.imwrite(str(tmp_path / 'grey.png'), np.dstack([truth * 255] * 3))
    with patch(PRINT_LOG) as print_log:
        gt = LoadBinaryMask()(dict(seg_map_path=str(tmp_path / 'grey.png')))
    np.testing.assert_array_equal(gt['gt_seg_map'], truth)
    assert not _warnings(print_log)


@pytest.mark.parametrize('scale', [1, 65535])
def test_16bit_mask(tmp_path, scale):
    truth = _disk() // 255
    path = tmp_path / 'mask16.png'
    cv2.imwrite(str(path), truth.astype(np.uint16) * scale)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    np.testing.assert_array_equal(_load_mask(path)['gt_seg_map'], truth)


def test_label_map_needs_mask_labels(tmp_path):
    labels = np.zeros((40, 60), np.uint8)
    labels[:, 20:40] = 1
    labels[:, 40:] = 2
    path = tmp_path / 'labels.png'
    cv2.imwrite(str(path), labels)
    with pytest.raises(
            ValueError,
            match=r'labels\.png holds 3 values '
            r'\[0, 1, 2\].*mask_labels'):
        _load_mask(path)
    loader = TRANSFORMS.build(dict(type='LoadBinaryMask', mask_labels=[2]))
    gt = loader(dict(seg_map_path=str(path)))['gt_seg_map']
    np.testing.assert_array_equal(gt, labels == 2)
    gt = LoadBinaryMask(mask_labels=[1, 2])(
        dict(seg_map_path=str(path)))['gt_seg_map']
    np.testing.assert_array_equal(gt, labels > 0)
    # Two values without a 0 background are no binary mask either.
    cv2.imwrite(str(path), labels + 1)
    with pytest.raises(ValueError, match='holds 3 values'):
        _load_mask(path)
    cv2.imwrite(str(path), np.where(labels == 2, 2, 1).astype(np.uint8))
    with pytest.raises(ValueError, match=r'holds 2 values \[1, 2\]'):
        _load_mask(path)


@pytest.mark.parametrize('mask_labels', [[], 'ab', [1.5], [True]])
def test_bad_mask_labels(mask_labels):
    with pytest.raises(ValueError, match='mask_labels'):
        LoadBinaryMask(mask_labels=mask_labels)


def test_jpeg_mask_warns_and_01_jpeg_is_recovered(tmp_path):
    truth = _disk() // 255
    # Named .png, but JPEG inside: the content decides.
    path = tmp_path / 'mask01.png'
    ok, data = cv2.imencode('.jpg', truth, [cv2.IMWRITE_JPEG_QUALITY, 90])
    path.write_bytes(data.tobytes())
    loader = LoadBinaryMask()
    with patch(PRINT_LOG) as print_log:
        gt = loader(dict(seg_map_path=str(path)))['gt_seg_map']
        loader(dict(seg_map_path=str(path)))
    (warning, ) = _warnings(print_log)
    assert 'mask01.png is a JPEG' in warning and 'PNG' in warning
    # Compression itself moved about 1.5 % of the pixels, at the edges.
    assert (gt != truth).mean() < 0.03 and gt[18, 20] == 1


def test_empty_mask_and_seg_fields(tmp_path):
    path = tmp_path / 'empty.png'
    cv2.imwrite(str(path), np.zeros((5, 7), np.uint8))
    results = LoadBinaryMask()(
        dict(seg_map_path=str(path), seg_fields=['gt_seg_map']))
    assert not results['gt_seg_map'].any()
    assert results['seg_fields'] == ['gt_seg_map']


def test_mask_size_mismatch(tmp_path):
    path = tmp_path / 'mask.png'
    cv2.imwrite(str(path), _disk())
    with pytest.raises(ValueError) as err:
        _load_mask(path, ori_shape=(60, 40))
    msg = str(err.value)
    assert str(path) in msg and 'img.png' in msg
    assert '40x60' in msg and '60x40' in msg


def test_bad_mask_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.png'):
        _load_mask(tmp_path / 'missing.png')
    for name, content in (('corrupt.png', b'not a png'), ('empty.png', b'')):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=f'Cannot decode mask .*{name}'):
            _load_mask(tmp_path / name)


@pytest.mark.parametrize('depth_scaling, expected_max', [('range', 255),
                                                         ('dtype', 16)])
def test_16bit_grey_image_is_scaled(tmp_path, depth_scaling, expected_max):
    # 12 bits stored in 16: values 0..4095.
    img = np.tile(np.linspace(0, 4095, 6), (4, 1)).astype(np.uint16)
    path = tmp_path / 'scan16.png'
    cv2.imwrite(str(path), img)
    loader = TRANSFORMS.build(
        dict(type='LoadCheckedImageFromFile', depth_scaling=depth_scaling))
    out = loader(dict(img_path=str(path)))['img']
    assert out.dtype == np.uint8 and out.shape == (4, 6, 3)
    assert out.min() == 0 and out.max() == expected_max
    # Grey: the three channels are equal and keep the ramp's order.
    assert (out == out[..., :1]).all() and (np.diff(out[0, :, 0]) > 0).all()


def test_image_loader_arguments():
    with pytest.raises(ValueError, match='depth_scaling'):
        LoadCheckedImageFromFile(depth_scaling='auto')
    with pytest.raises(ValueError, match='color_type'):
        LoadCheckedImageFromFile(color_type='unchanged')
    assert "depth_scaling='range'" in repr(LoadCheckedImageFromFile())


def test_checked_image_loader(tmp_path):
    path = tmp_path / 'gray.png'
    cv2.imwrite(str(path), np.full((4, 6), 50, np.uint8))
    loader = TRANSFORMS.build(dict(type='LoadCheckedImageFromFile'))
    assert isinstance(loader, LoadImageFromFile)
    results = loader(dict(img_path=str(path)))
    assert results['img'].shape == (4, 6, 3)
    assert results['ori_shape'] == results['img_shape'] == (4, 6)

    with pytest.raises(
            FileNotFoundError, match='Image file not found: .*missing.jpg'):
        loader(dict(img_path=str(tmp_path / 'missing.jpg')))
    for name, content in (('corrupt.jpg', b'\xff\xd8 truncated'), ('empty.png',
                                                                   b'')):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=f'Cannot decode image .*{name}'):
            loader(dict(img_path=str(tmp_path / name)))
        lenient = LoadCheckedImageFromFile(ignore_empty=True)
        assert lenient(dict(img_path=str(tmp_path / name))) is None


@pytest.mark.parametrize('text, direction, expected', [
    ('polyp on the left', 'horizontal', 'polyp on the right'),
    ('top left', 'horizontal', 'top right'),
    ('Left atrium, RIGHT side', 'horizontal', 'Right atrium, LEFT side'),
    ('top-left and leftmost, bright', 'horizontal',
     'top-right and leftmost, bright'),
    ('top left, bottom', 'vertical', 'bottom left, top'),
    ('Top left', 'diagonal', 'Bottom right'),
    ('a round polyp', 'horizontal', 'a round polyp'),
])
def test_swap_position_words(text, direction, expected):
    assert swap_position_words(text, direction) == expected


def _left_blob_sample(text):
    """An image and mask whose only object sits in the top left."""
    img = np.zeros((6, 8, 3), np.uint8)
    img[:2, :3] = 200
    mask = (img[..., 0] > 0).astype(np.uint8)
    return dict(img=img, gt_seg_map=mask, seg_fields=['gt_seg_map'], text=text)


@pytest.mark.parametrize('direction, text, expected', [
    ('horizontal', 'blob at the top left', 'blob at the top right'),
    ('vertical', 'blob at the top left', 'blob at the bottom left'),
])
def test_flip_swaps_words_with_pixels(direction, text, expected):
    flip = TRANSFORMS.build(
        dict(type='TextAwareRandomFlip', prob=1.0, direction=direction))
    assert isinstance(flip, RandomFlip)
    results = flip(_left_blob_sample(text))
    assert results['flip'] is True
    assert results['flip_direction'] == direction
    assert results['text'] == expected
    ys, xs = np.nonzero(results['gt_seg_map'])
    if direction == 'horizontal':
        assert xs.min() == 5 and ys.max() == 1  # now in the top right
    else:
        assert xs.max() == 2 and ys.min() == 4  # now in the bottom left
    # Image and mask flipped together.
    np.testing.assert_array_equal(results['img'][..., 0] > 0,
                                  results['gt_seg_map'] > 0)


def test_flip_skip_mode():
    flip = TextAwareRandomFlip(prob=1.0, lateral_words='skip')
    kept = flip(_left_blob_sample('blob on the Left'))
    assert kept['flip'] is False and kept['flip_direction'] is None
    assert kept['text'] == 'blob on the Left'
    assert kept['gt_seg_map'][0, 0] == 1
    flipped = flip(_left_blob_sample('a blob'))
    assert flipped['flip'] is True and flipped['gt_seg_map'][0, 7] == 1
    # "left" does not object to a vertical flip.
    vflip = TextAwareRandomFlip(
        prob=1.0, direction='vertical', lateral_words='skip')
    out = vflip(_left_blob_sample('blob on the left'))
    assert out['flip'] is True and out['text'] == 'blob on the left'


def test_flip_probability_zero_and_no_text():
    out = TextAwareRandomFlip(prob=0.0)(_left_blob_sample('left'))
    assert out['flip'] is False and out['text'] == 'left'
    sample = _left_blob_sample('left')
    del sample['text']
    out = TextAwareRandomFlip(prob=1.0)(sample)
    assert out['flip'] is True and 'text' not in out


def test_flip_rejects_unknown_mode():
    with pytest.raises(ValueError, match='lateral_words'):
        TextAwareRandomFlip(prob=0.5, lateral_words='ignore')


def test_random_rot90_draws_every_quarter_turn():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    rotations = [np.rot90(image, k) for k in range(4)]
    with DefaultScope.overwrite_default_scope('mmvlsm_cls'):
        transform = classification.TRANSFORMS.build(dict(type='RandomRot90'))
    seen = set()
    np.random.seed(0)
    for _ in range(40):
        out = transform(dict(img=image.copy()))
        k = next(k for k, r in enumerate(rotations)
                 if r.shape == out['img'].shape and (r == out['img']).all())
        assert out['img_shape'] == out['img'].shape[:2]
        seen.add(k)
    assert seen == {0, 1, 2, 3}


def _official_cris_matrix(ori_shape, scale):
    """Official CRIS's letterbox matrix: OpenCV's affine map of the image's
    corners onto those of its centred area (float32 points)."""
    h, w = ori_shape
    s = min(scale[1] / h, scale[0] / w)
    x0, y0 = (scale[0] - w * s) / 2, (scale[1] - h * s) / 2
    corners = np.float32([[0, 0], [w, 0], [0, h]])
    placed = np.float32([[x0, y0], [x0 + w * s, y0], [x0, y0 + h * s]])
    return cv2.getAffineTransform(corners, placed)


@pytest.mark.parametrize('ori_shape', [(576, 720), (720, 576), (100, 61)])
def test_letterbox_without_half_pixel_is_official_cris(ori_shape):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (*ori_shape, 3), dtype=np.uint8)
    mask = (rng.random(ori_shape) > 0.5).astype(np.uint8)
    results = LetterBoxResize(
        scale=(416, 416), half_pixel=False)(
            dict(img=img, gt_seg_map=mask, seg_fields=['gt_seg_map']))
    matrix = _official_cris_matrix(ori_shape, (416, 416))
    assert np.array_equal(np.array(results['letterbox_matrix']), matrix)
    expected = cv2.warpAffine(
        img,
        matrix, (416, 416),
        flags=cv2.INTER_CUBIC,
        borderValue=CLIP_MEAN_BGR)
    np.testing.assert_array_equal(results['img'], expected)
    np.testing.assert_array_equal(
        results['gt_seg_map'],
        cv2.warpAffine(mask, matrix, (416, 416), flags=cv2.INTER_NEAREST))


def _centre_of_mass(img):
    ys, xs = np.indices(img.shape)
    return (img * ys).sum() / img.sum(), (img * xs).sum() / img.sum()


@pytest.mark.parametrize('ori_shape', [(144, 180), (180, 144)])
def test_letterbox_half_pixel_centres_exactly(ori_shape):
    """A symmetric image stays symmetric (centred) with half-pixel
    offsets; official CRIS's corner mapping shifts it by (1 - s) / 2 frame
    pixels right and down."""
    h, w = ori_shape
    ys, xs = np.indices(ori_shape, dtype=np.float64)
    blob = np.exp(-((ys - (h - 1) / 2)**2 / (h / 6)**2 +
                    (xs - (w - 1) / 2)**2 / (w / 6)**2))
    img = np.repeat(blob[..., None], 3, -1).astype(np.float32)
    scale = (104, 104)
    s = min(104 / h, 104 / w)
    centred = LetterBoxResize(scale, pad_val=0)(dict(img=img.copy()))
    official = LetterBoxResize(
        scale, pad_val=0, half_pixel=False)(
            dict(img=img.copy()))
    out = centred['img'][..., 0]
    np.testing.assert_allclose(out, out[::-1], atol=1e-5)
    np.testing.assert_allclose(out, out[:, ::-1], atol=1e-5)
    np.testing.assert_allclose(_centre_of_mass(out), (51.5, 51.5), atol=1e-4)
    np.testing.assert_allclose(
        _centre_of_mass(official['img'][..., 0]),
        (51.5 + (1 - s) / 2, 51.5 + (1 - s) / 2),
        atol=2e-3)
    shift = (
        np.array(official['letterbox_matrix']) -
        np.array(centred['letterbox_matrix']))
    np.testing.assert_allclose(
        shift, [[0, 0, (1 - s) / 2], [0, 0, (1 - s) / 2]], atol=1e-5)
    assert centred['letterbox_size'] == official['letterbox_size']
    assert 'half_pixel=False' in repr(LetterBoxResize(half_pixel=False))
