# Copyright (c) OpenMMLab. All rights reserved.
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmvlsm.datasets.transforms import LetterBoxResize
from mmvlsm.models import (SigmoidBCELoss, SoftDiceLoss, TextPromptedSegmentor,
                           openai_clip_tokenizer)
from mmvlsm.models.segmentors.base import FLIP_DIMS


class ToySegmentor(TextPromptedSegmentor):
    """Predicts logits at half the input resolution, scaled per prompt."""

    def __init__(self, **kwargs):
        super().__init__(tokenizer=openai_clip_tokenizer(), **kwargs)
        self.conv = nn.Conv2d(3, 1, 2, stride=2)
        self.embed = nn.Embedding(49408, 1)

    def extract_feat(self, inputs):
        return self.conv(inputs)

    def encode_text(self, input_ids, attention_mask):
        return (self.embed(input_ids)[..., 0] * attention_mask).sum(1)

    def decode(self, img_feats, text_feats):
        return img_feats * text_feats.view(-1, 1, 1, 1)


def _samples(texts, size, ori_shape, with_gt=True, **meta):
    samples = []
    for text in texts:
        sample = SegDataSample(
            metainfo=dict(text=text, ori_shape=ori_shape, **meta))
        if with_gt:
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, 2, (1, size, size)))
        samples.append(sample)
    return samples


def test_tokenize_pads_to_longest_and_truncates():
    model = ToySegmentor(context_length=4)
    ids, mask = model.tokenize(
        _samples(['a photo of a cat', 'cat'], 8, (8, 8)), torch.device('cpu'))
    assert ids.tolist() == [[49406, 320, 1125, 49407],
                            [49406, 2368, 49407, 49407]]
    assert mask.tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]


def test_loss_resizes_logits_and_sums_by_name():
    model = ToySegmentor(losses=[
        dict(type='SoftDiceLoss'),
        dict(type='SigmoidBCELoss'),
        dict(type='SigmoidBCELoss', loss_weight=2.0)
    ])
    inputs = torch.randn(2, 3, 8, 8)
    samples = _samples(['cat', 'a dog'], 8, (8, 8))
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_dice', 'loss_bce'}

    logits = F.interpolate(
        model._forward(inputs, samples), size=(8, 8), mode='bilinear')
    gt = torch.stack([s.gt_sem_seg.data for s in samples])
    assert logits.shape == (2, 1, 8, 8)
    assert torch.allclose(losses['loss_dice'], SoftDiceLoss()(logits, gt))
    assert torch.allclose(losses['loss_bce'], 3 * SigmoidBCELoss()(logits, gt))


def test_forward_modes():
    model = ToySegmentor()
    inputs = torch.randn(2, 3, 8, 8)
    samples = _samples(['cat', 'a dog'], 8, (8, 8))
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss_dice', 'loss_bce'}
    assert model(inputs, samples, mode='tensor').shape == (2, 1, 4, 4)
    assert len(model(inputs, samples, mode='predict')) == 2


@pytest.mark.parametrize('direction,dims', [('horizontal', [-1]),
                                            ('vertical', [-2]),
                                            ('diagonal', [-2, -1])])
def test_predict_undoes_flip_then_resizes(direction, dims):
    model = ToySegmentor(test_cfg=dict(threshold=0.6))
    inputs = torch.randn(1, 3, 8, 8)
    meta = dict(flip=True, flip_direction=direction)
    samples = _samples(['cat'], 8, (10, 7), with_gt=False, **meta)
    logits = model._forward(inputs, samples)[0]
    expected = F.interpolate(
        logits.flip(dims)[None],
        size=(10, 7),
        mode='bilinear',
        align_corners=False)[0]

    result = model.predict(inputs, samples)[0]
    assert result.seg_logits.shape == (10, 7)
    assert torch.allclose(result.seg_logits.data, expected)
    pred = result.pred_sem_seg.data
    assert pred.shape == (1, 10, 7) and pred.dtype == torch.long
    assert torch.equal(pred, (expected.sigmoid() > 0.6).long())


def test_invalid_samples():
    model = ToySegmentor()
    inputs = torch.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match='metainfo'):
        model(inputs, None, mode='tensor')
    sample = SegDataSample(metainfo=dict(ori_shape=(8, 8)))
    with pytest.raises(ValueError, match='metainfo'):
        model(inputs, [sample], mode='tensor')
    padded = _samples(['cat'], 8, (8, 8), img_padding_size=[0, 2, 0, 0])
    with pytest.raises(ValueError, match='Padded inputs'):
        model.predict(inputs, padded)


def test_grouped_postprocessing_equals_one_image_at_a_time():
    """Samples of several sizes and flips, interleaved in one batch."""
    model = ToySegmentor(test_cfg=dict(threshold=0.3))
    metas = [
        dict(ori_shape=(10, 7)),
        dict(ori_shape=(12, 12), flip=True, flip_direction='horizontal'),
        dict(ori_shape=(10, 7)),
        dict(ori_shape=(10, 7), flip=True, flip_direction='vertical'),
        dict(ori_shape=(12, 12), flip=True, flip_direction='horizontal'),
    ]
    samples = [SegDataSample(metainfo=dict(text='cat', **m)) for m in metas]
    logits = torch.randn(5, 1, 4, 4)
    results = model.postprocess_result(logits, samples)
    for logit, meta, result in zip(logits, metas, results):
        if meta.get('flip'):
            logit = logit.flip(FLIP_DIMS[meta['flip_direction']])
        expected = F.interpolate(
            logit[None], size=meta['ori_shape'], mode='bilinear')[0]
        assert torch.equal(result.seg_logits.data, expected)
        assert torch.equal(result.pred_sem_seg.data, (expected.sigmoid()
                                                      > 0.3).long())


@pytest.mark.parametrize('half_pixel', [True, False, None])
@pytest.mark.parametrize('ori_shape', [(576, 720), (720, 576)])
def test_letterboxed_logits_follow_the_letterbox_matrix(half_pixel, ori_shape):
    """Logits that are the frame's x (and y) coordinate come back, at each
    original pixel, as the coordinate the letterbox put it at: bilinear
    sampling reproduces linear maps, so this checks the map exactly.
    ``None``: metainfo with only ``letterbox_size`` (the centred map)."""
    results = LetterBoxResize(
        scale=(416, 416), half_pixel=half_pixel is not False)(
            dict(img=np.zeros((*ori_shape, 3), np.uint8)))
    meta = dict(
        text='cat',
        ori_shape=ori_shape,
        img_shape=results['img_shape'],
        letterbox_size=results['letterbox_size'])
    if half_pixel is not None:
        meta['letterbox_matrix'] = results['letterbox_matrix']
    # Logits at 1/4 of the frame: pixel j's centre is at 4 j + 1.5.
    centres = torch.arange(104.) * 4 + 1.5
    logits = torch.stack(
        [centres.expand(104, 104), centres[:, None].expand(104, 104)])[:, None]
    samples = [SegDataSample(metainfo=meta) for _ in range(2)]
    out = ToySegmentor().postprocess_result(logits, samples)
    matrix = torch.tensor(results['letterbox_matrix'], dtype=torch.float64)
    ys, xs = torch.meshgrid(
        torch.arange(ori_shape[0], dtype=torch.float64),
        torch.arange(ori_shape[1], dtype=torch.float64),
        indexing='ij')
    for axis, sample in enumerate(out):
        expected = matrix[axis, 0] * xs + matrix[axis, 1] * ys + matrix[axis,
                                                                        2]
        inside = (expected >= 1.5) & (expected <= 413.5)
        got = sample.seg_logits.data[0].double()
        torch.testing.assert_close(
            got[inside], expected[inside], atol=1e-3, rtol=0)


@pytest.mark.parametrize('threshold', [0, 1, 1.5])
def test_threshold_outside_the_open_unit_interval_is_refused(threshold):
    model = ToySegmentor(test_cfg=dict(threshold=threshold))
    samples = _samples(['cat'], 8, (8, 8), with_gt=False)
    with pytest.raises(ValueError, match='strictly between 0 and 1'):
        model.predict(torch.randn(1, 3, 8, 8), samples)


def test_tokens_stored_in_samples_are_used():
    model = ToySegmentor(context_length=4)
    samples = _samples(['a photo of a cat', 'cat'], 8, (8, 8))
    ids = torch.tensor([[49406, 320, 1125, 49407], [49406, 2368, 49407,
                                                    49407]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    for sample, row, row_mask in zip(samples, ids, mask):
        sample.set_data(dict(input_ids=row, attention_mask=row_mask))
    got_ids, got_mask = model.tokenize(samples, torch.device('cpu'))
    assert torch.equal(got_ids, ids) and torch.equal(got_mask, mask)
    # Text and tokens disagreeing is caught (on the first batch).
    samples[1].set_metainfo(dict(text='dog'))
    model._pipeline_tokens_checked = False
    with pytest.raises(ValueError, match='TokenizePrompt'):
        model.tokenize(samples, torch.device('cpu'))
