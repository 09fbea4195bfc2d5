# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.runner import save_checkpoint
from mmseg.structures import SegDataSample
from PIL import Image

from mmvlsm.apis import (inference_model, init_model, load_image,
                         prepare_image)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'quickstart',
                  'clipseg-tiny_1xb16-650it_toy-shapes-128x128.py')


def test_init_model_loads_checkpoint_and_segments_by_text(tmp_path):
    torch.manual_seed(0)
    trained = init_model(CONFIG)
    ckpt = tmp_path / 'model.pth'
    save_checkpoint({'state_dict': trained.state_dict()}, str(ckpt))

    torch.manual_seed(1)
    model = init_model(CONFIG, str(ckpt))
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value)
    assert not model.training

    img = np.random.RandomState(0).randint(0, 255, (96, 150, 3), np.uint8)
    path = str(tmp_path / 'img.png')
    cv2.imwrite(path, img)
    from_file = inference_model(model, path, 'red circle')
    from_array = inference_model(model, img, 'red circle')
    other_text = inference_model(model, img, 'blue square on the left')

    # At the original size, binary, and the same for a path or an array.
    assert from_file.pred_sem_seg.data.shape == (1, 96, 150)
    assert set(from_file.pred_sem_seg.data.unique().tolist()) <= {0, 1}
    torch.testing.assert_close(from_file.seg_logits.data,
                               from_array.seg_logits.data)
    assert from_file.text == 'red circle'
    # The prompt reaches the model.
    assert not torch.allclose(from_array.seg_logits.data,
                              other_text.seg_logits.data)


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_model(CONFIG)


def _logits(model, img):
    return inference_model(model, img, 'red circle').seg_logits.data


def test_accepted_image_forms_are_converted(model, tmp_path):
    rng = np.random.RandomState(0)
    grey = rng.randint(0, 256, (40, 56), np.uint8)
    bgr = rng.randint(0, 256, (40, 56, 3), np.uint8)
    reference = _logits(model, bgr)
    assert reference.shape == (1, 40, 56)
    # BGRA: alpha dropped; PIL RGB(A) images are RGB.
    bgra = np.dstack([bgr, np.full((40, 56), 7, np.uint8)])
    torch.testing.assert_close(_logits(model, bgra), reference)
    rgb = Image.fromarray(bgr[..., ::-1].copy())
    torch.testing.assert_close(_logits(model, rgb), reference)
    torch.testing.assert_close(_logits(model, rgb.convert('RGBA')), reference)
    # Float in [0, 1] is on the 0..255 scale after x255.
    torch.testing.assert_close(_logits(model, bgr / 255.), reference)
    torch.testing.assert_close(
        _logits(model,
                bgr.astype(np.float32) / 255), reference)
    # Grey arrays (2D or one channel) and PIL 'L' equal their BGR copies.
    grey_bgr = _logits(model, np.dstack([grey] * 3))
    for form in (grey, grey[..., None], Image.fromarray(grey)):
        torch.testing.assert_close(_logits(model, form), grey_bgr)
    # 16-bit, as the image loader reads a 16-bit PNG (range-stretched).
    scan = (grey.astype(np.uint16) * 16)  # 12 bits in 16
    path = tmp_path / 'scan16.png'
    cv2.imwrite(str(path), scan)
    from_file = _logits(model, str(path))
    torch.testing.assert_close(_logits(model, scan), from_file)
    torch.testing.assert_close(_logits(model, Image.open(path)), from_file)
    torch.testing.assert_close(from_file, grey_bgr)
    torch.testing.assert_close(_logits(model, path), from_file)  # PathLike


@pytest.mark.parametrize('img, error, message', [
    ([[np.zeros((8, 8, 3), np.uint8)]], TypeError, 'image 0 of the list'),
    (torch.zeros(3, 8, 8), TypeError, 'got Tensor'),
    (np.zeros((3, 8, 8), np.uint8), ValueError, r'shape \(3, 8, 8\)'),
    (np.zeros((8, 8, 2), np.uint8), ValueError, r'shape \(8, 8, 2\)'),
    (np.zeros((0, 8, 3), np.uint8), ValueError, r'shape \(0, 8, 3\)'),
    (np.full((8, 8, 3), 200.), ValueError, r'values in \[200.0, 200.0\]'),
    (np.zeros((8, 8, 3), np.int64), ValueError, 'dtype int64'),
    (np.zeros((8, 8), bool), ValueError, 'dtype bool'),
])
def test_other_inputs_are_refused_with_what_is_accepted(
        model, img, error, message):
    with pytest.raises(error, match=message) as err:
        inference_model(model, img, 'red circle')
    assert 'uint8' in str(err.value) or 'list of images' in str(err.value)


def test_one_prompt_expected(model):
    with pytest.raises(TypeError, match='one prompt'):
        inference_model(model, np.zeros((8, 8, 3), np.uint8), ['a', 'b'])


def test_pipeline_without_image_loader_is_named(model):
    pipeline = model.cfg.test_dataloader.dataset.pipeline
    saved = list(pipeline)
    pipeline[0] = dict(type='MyLoader')
    try:
        with pytest.raises(ValueError, match=r"image loader.*'MyLoader'"):
            inference_model(model, np.zeros((8, 8, 3), np.uint8), 'a')
    finally:
        pipeline[:] = saved


def _mixed_images(tmp_path):
    """A path, a PIL image, a grey and a 16-bit array, all of odd sizes."""
    rng = np.random.RandomState(3)
    path = tmp_path / 'odd.png'
    cv2.imwrite(str(path), rng.randint(0, 256, (37, 53, 3), np.uint8))
    return [
        str(path),
        Image.fromarray(rng.randint(0, 256, (64, 41, 3), np.uint8)),
        rng.randint(0, 256, (20, 90), np.uint8),
        rng.randint(0, 4096, (129, 7), np.uint16),
    ]


def test_list_of_images_with_a_prompt_each(model, tmp_path):
    images = _mixed_images(tmp_path)
    prompts = ['red circle', 'blue square', 'green triangle', 'left shape']
    samples = inference_model(model, images, prompts, batch_size=3)
    assert isinstance(samples, list) and len(samples) == len(images)
    sizes = [(37, 53), (64, 41), (20, 90), (129, 7)]
    for sample, size, prompt, img in zip(samples, sizes, prompts, images):
        assert isinstance(sample, SegDataSample) and sample.text == prompt
        assert sample.pred_sem_seg.data.shape == (1, ) + size
        assert sample.seg_logits.data.shape == (1, ) + size
        # Each image segments as it does on its own.
        alone = inference_model(model, img, prompt)
        torch.testing.assert_close(sample.seg_logits.data,
                                   alone.seg_logits.data)
    # One prompt for every image.
    same = inference_model(model, images, 'red circle')
    assert [s.text for s in same] == ['red circle'] * len(images)


def test_batch_size_does_not_change_masks(model, tmp_path):
    images = _mixed_images(tmp_path)
    prompts = [f'shape number {i}' for i in range(len(images))]
    one_batch = inference_model(model, images, prompts, batch_size=4)
    for batch_size in (1, 3):
        batched = inference_model(model, images, prompts, batch_size)
        for a, b in zip(one_batch, batched):
            assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
            torch.testing.assert_close(a.seg_logits.data, b.seg_logits.data)


def test_single_image_returns_one_sample(model):
    img = np.zeros((9, 11, 3), np.uint8)
    sample = inference_model(model, img, 'red circle', batch_size=1)
    assert isinstance(sample, SegDataSample)
    assert sample.pred_sem_seg.data.shape == (1, 9, 11)
    # A list of one is a list.
    assert len(inference_model(model, [img], ['red circle'])) == 1


@pytest.mark.parametrize('images, text, kwargs, error, message', [
    (2, ['a', 'b', 'c'], {}, ValueError, '3 prompts for 2 images'),
    (2, ['a'], {}, ValueError, '1 prompts for 2 images'),
    (2, ['a', 3], {}, TypeError, 'one per image'),
    (0, 'a', {}, ValueError, 'empty list'),
    (2, 'a', dict(batch_size=0), ValueError, 'batch_size must be'),
])
def test_list_errors(model, images, text, kwargs, error, message):
    imgs = [np.zeros((8, 8, 3), np.uint8)] * images
    with pytest.raises(error, match=message):
        inference_model(model, imgs, text, **kwargs)


def test_bad_image_in_list_is_named_by_index(model):
    imgs = [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.int64)]
    with pytest.raises(ValueError, match='image 1 of the list: .*int64'):
        inference_model(model, imgs, 'a')


def test_load_image_reads_as_the_pipeline(model, tmp_path):
    scan = np.random.RandomState(0).randint(0, 4096, (30, 20), np.uint16)
    path = tmp_path / 'scan16.png'
    cv2.imwrite(str(path), scan)
    img = load_image(model, path)
    assert img.dtype == np.uint8 and img.shape == (30, 20, 3)
    torch.testing.assert_close(_logits(model, img), _logits(model, path))
    (tmp_path / 'text.png').write_text('not an image')
    with pytest.raises(ValueError, match='text.png'):
        load_image(model, tmp_path / 'text.png')


def test_channel_order_of_arrays(model):
    # Red on the left, blue on the right: the order of channels matters.
    rgb = np.zeros((40, 56, 3), np.uint8)
    rgb[:, :28, 0] = 255
    rgb[:, 28:, 2] = 255
    rgb[10:30, 20:36, 1] = 180
    pil = Image.fromarray(rgb)
    reference = inference_model(model, pil, 'red circle')
    for form in (rgb, np.dstack([rgb, np.full((40, 56), 7,
                                              np.uint8)]), rgb / 255.):
        sample = inference_model(
            model, form, 'red circle', channel_order='rgb')
        torch.testing.assert_close(sample.seg_logits.data,
                                   reference.seg_logits.data)
        torch.testing.assert_close(sample.pred_sem_seg.data,
                                   reference.pred_sem_seg.data)
    # The default is BGR, as mmseg's: the RGB array is the swapped image.
    swapped = Image.fromarray(rgb[..., ::-1].copy())
    torch.testing.assert_close(
        _logits(model, rgb),
        inference_model(model, swapped, 'red circle').seg_logits.data)
    assert not torch.allclose(_logits(model, rgb), reference.seg_logits.data)
    # The prepared arrays: BGR in both cases; PIL and grey do not depend on
    # the order.
    bgr = rgb[..., ::-1]
    np.testing.assert_array_equal(prepare_image(rgb, channel_order='rgb'), bgr)
    np.testing.assert_array_equal(prepare_image(rgb), rgb)
    np.testing.assert_array_equal(
        prepare_image(pil, channel_order='rgb'), prepare_image(pil))
    grey = rgb[..., 1]
    np.testing.assert_array_equal(
        prepare_image(grey, channel_order='rgb'), prepare_image(grey))
    np.testing.assert_array_equal(
        prepare_image(rgb, grayscale=True, channel_order='rgb'),
        cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


@pytest.mark.parametrize('order', ['RGB', 'bgra', None])
def test_other_channel_orders_are_refused(model, order):
    with pytest.raises(ValueError, match="channel_order must be one of"):
        inference_model(
            model,
            np.zeros((8, 8, 3), np.uint8),
            'red circle',
            channel_order=order)
