# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.runner import save_checkpoint
from PIL import Image

from mmvlsm.apis import inference_model, init_model

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
    ([np.zeros((8, 8, 3), np.uint8)] * 2, TypeError,
     'segments one image, got a list of 2'),
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
    assert 'uint8' in str(err.value) or 'one image' in str(err.value)


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
