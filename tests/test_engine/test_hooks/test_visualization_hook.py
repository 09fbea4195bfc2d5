# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
from unittest.mock import MagicMock

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmvlsm.engine import VLSMVisualizationHook
from mmvlsm.registry import HOOKS

MIN_WIDTH = VLSMVisualizationHook.MIN_WIDTH
LONG_PROMPT = ('a small, round, pinkish polyp with a smooth surface located '
               'in the lower left part of the colonoscopy image, partly '
               'covered by mucus and surrounded by normal mucosa')


def _sample(tmp_path,
            shape,
            pred,
            gt,
            mask_name='mask_1/case.jpg',
            gray=True,
            text='one pink polyp',
            prompt_key='p1'):
    """Write a flat image (value 100) and wrap it in a model output."""
    img = np.full(shape if gray else shape + (3, ), 100, dtype=np.uint8)
    img_path = str(tmp_path / f'img_{osp.basename(mask_name)}.png')
    cv2.imwrite(img_path, img)
    sample = SegDataSample(
        metainfo=dict(
            img_path=img_path,
            mask_name=mask_name,
            text=text,
            prompt_key=prompt_key))
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None].long())
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None].long())
    return sample


def _runner(tmp_path):
    return MagicMock(work_dir=str(tmp_path / 'work_dir'), iter=7)


def _test(hook, runner, samples):
    """One test batch, then the end of the test, when overlays are named."""
    hook.after_test_iter(runner, 0, {}, samples)
    hook.after_test_epoch(runner)


def _boxes(shape):
    """Prediction in the top-left corner, GT in the bottom-right one."""
    pred = np.zeros(shape, dtype=np.uint8)
    gt = np.zeros(shape, dtype=np.uint8)
    pred[1:3, 1:4] = 1
    gt[3:6, 6:10] = 1
    return pred, gt


@pytest.mark.parametrize('gray', [True, False])
def test_overlay_written_at_original_size(tmp_path, gray):
    shape = (6, 10)
    pred, gt = _boxes(shape)
    sample = _sample(tmp_path, shape, pred, gt, gray=gray, text=LONG_PROMPT)
    out_dir = tmp_path / 'show'
    hook = VLSMVisualizationHook(draw=True, out_dir=str(out_dir))
    _test(hook, _runner(tmp_path), [sample])

    out = cv2.imread(str(out_dir / 'mask_1' / 'case.png'))
    assert out is not None and not (out_dir / 'mask_1' / 'case.jpg').exists()
    banner_height = out.shape[0] - shape[0]
    assert out.shape[1] == MIN_WIDTH and banner_height > 0
    # The banner carries text: the prompt and the scores.
    assert out[:banner_height].any()
    image = out[banner_height:, :shape[1]].astype(int)
    pred_px, bg_px = image[pred == 1], image[(pred == 0) & (gt == 0)]
    # Prediction: 50 % red over gray 100 -> BGR (50, 50, 178).
    np.testing.assert_array_equal(pred_px, [[50, 50, 178]] * len(pred_px))
    # Untouched elsewhere, except for the green GT contour.
    np.testing.assert_array_equal(bg_px, [[100, 100, 100]] * len(bg_px))
    assert (image[3, 6] == [0, 255, 0]).all()
    # The padding right of a narrow image stays black.
    assert not out[banner_height:, shape[1]:].any()


def test_wide_image_and_alpha(tmp_path):
    shape = (40, 400)
    pred, gt = _boxes(shape)
    sample = _sample(tmp_path, shape, pred, gt, mask_name='wide.png')
    hook = VLSMVisualizationHook(draw=True, out_dir=str(tmp_path), alpha=1.)
    _test(hook, _runner(tmp_path), [sample])
    out = cv2.imread(str(tmp_path / 'wide.png'))
    assert out.shape[1] == 400 and out.shape[0] > 40
    assert (out[-40:][pred == 1] == [0, 0, 255]).all()


def test_tiny_image_and_no_gt(tmp_path):
    sample = _sample(
        tmp_path, (1, 1),
        np.ones((1, 1), np.uint8),
        np.zeros((1, 1), np.uint8),
        'tiny.png',
        text='')
    del sample.gt_sem_seg
    hook = VLSMVisualizationHook(draw=True, out_dir=str(tmp_path / 'show'))
    _test(hook, _runner(tmp_path), [sample])
    out = cv2.imread(str(tmp_path / 'show' / 'tiny.png'))
    assert out.shape[1] == MIN_WIDTH
    assert (out[-1, 0] != 100).any()


def test_default_out_dir_is_under_work_dir(tmp_path):
    shape = (6, 10)
    sample = _sample(tmp_path, shape, *_boxes(shape), mask_name='a.png')
    hook = HOOKS.build(dict(type='VLSMVisualizationHook', draw=True))
    _test(hook, _runner(tmp_path), [sample])
    assert (tmp_path / 'work_dir' / 'vis' / 'a.png').is_file()


def test_draw_interval_and_val_switches(tmp_path):
    shape = (6, 10)
    sample = _sample(tmp_path, shape, *_boxes(shape), mask_name='a.png')
    out_dir = tmp_path / 'show'
    runner = _runner(tmp_path)

    _test(VLSMVisualizationHook(out_dir=str(out_dir)), runner, [sample])
    assert not out_dir.exists()  # draw=False by default

    hook = VLSMVisualizationHook(draw=True, out_dir=str(out_dir), interval=2)
    hook.after_test_iter(runner, 0, {}, [sample])
    hook.after_val_iter(runner, 1, {}, [sample])
    hook.after_val_epoch(runner)
    assert not out_dir.exists()  # batch 0 skipped, val off by default
    hook.after_test_iter(runner, 1, {}, [sample])
    hook.after_test_epoch(runner)
    assert (out_dir / 'a.png').is_file()

    hook = VLSMVisualizationHook(
        draw=True, out_dir=str(out_dir), draw_val=True)
    hook.after_val_iter(runner, 0, {}, [sample])
    hook.after_val_epoch(runner)
    assert (out_dir / 'iter_7' / 'a.png').is_file()
    assert sorted(p.name for p in out_dir.iterdir()) == ['a.png', 'iter_7']


@pytest.mark.parametrize('kwargs', [dict(interval=0), dict(alpha=1.5)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        VLSMVisualizationHook(**kwargs)


def test_overlays_keep_apart_and_inside(tmp_path):
    shape = (6, 10)
    pred, gt = _boxes(shape)
    out_dir = tmp_path / 'show'
    escaping = str(tmp_path / 'gt.png')
    samples = [
        _sample(tmp_path, shape, pred, gt, 'a.png', prompt_key='p1'),
        _sample(tmp_path, shape, gt, gt, 'a.png', prompt_key='p2'),
        _sample(tmp_path, shape, pred, gt, 'mask_1/x.png'),
        _sample(tmp_path, shape, gt, gt, 'mask_2/x.png'),
        _sample(tmp_path, shape, pred, gt, escaping),
        _sample(tmp_path, shape, pred, gt, '../../up.png'),
    ]
    hook = VLSMVisualizationHook(draw=True, out_dir=str(out_dir))
    # Two batches: names are decided once all samples are drawn.
    hook.after_test_iter(_runner(tmp_path), 0, {}, samples[:3])
    hook.after_test_iter(_runner(tmp_path), 1, {}, samples[3:])
    hook.after_test_epoch(_runner(tmp_path))
    written = sorted(
        str(p.relative_to(out_dir)) for p in out_dir.rglob('*.png'))
    assert written == sorted([
        'a_p1.png', 'a_p2.png', 'mask_1/x.png', 'mask_2/x.png',
        '_outside/' + escaping.lstrip('/'), '_outside/up.png'
    ])
    assert not (tmp_path / 'gt.png').exists()
    assert not (tmp_path.parent / 'up.png').exists()
    # The overlays differ: neither overwrote the other.
    assert (cv2.imread(str(out_dir / 'a_p1.png'))
            != cv2.imread(str(out_dir / 'a_p2.png'))).any()


def _banner(tmp_path, text):
    shape = (6, 10)
    sample = _sample(tmp_path, shape, *_boxes(shape), 'a.png', text=text)
    del sample.gt_sem_seg  # no score line
    out = VLSMVisualizationHook().draw_sample(sample)
    return out[:-shape[0]]


def test_prompt_with_accents_is_drawn_not_replaced(tmp_path):
    accented = _banner(tmp_path, 'polype à gauche, très rosé')
    replaced = _banner(tmp_path, 'polype ? gauche, tr?s ros?')
    assert accented.any() and accented.shape == replaced.shape
    assert (accented != replaced).any()


def test_font_for_falls_back_when_no_font_has_the_glyphs():
    from mmvlsm.engine.hooks.visualization_hook import _charmap, font_for
    latin = font_for('polyp')
    assert {ord(c) for c in 'àéü'} <= _charmap(latin)
    # A font is always returned; with no CJK font installed it is the one
    # covering most characters, and drawing does not fail.
    cjk = font_for('左侧息肉')
    assert osp.isfile(cjk)
    font = VLSMVisualizationHook._font('左侧息肉', MIN_WIDTH)
    assert VLSMVisualizationHook._banner(['左侧息肉'], font, MIN_WIDTH).any()


def test_draw_overlay_of_an_array_without_gt():
    img = np.full((6, 10, 3), 100, np.uint8)
    pred, _ = _boxes((6, 10))
    out = VLSMVisualizationHook.draw_overlay(img, pred == 1, 'a polyp')
    assert out.shape[1] == MIN_WIDTH and out[:-6].any()
    image = out[-6:, :10].astype(int)
    np.testing.assert_array_equal(image[pred == 1], [[50, 50, 178]] * 6)
    np.testing.assert_array_equal(image[pred == 0], [[100, 100, 100]] * 54)
