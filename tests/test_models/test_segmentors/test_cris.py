# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from open_clip.transformer import TextTransformer

from mmvlsm.datasets.transforms import LetterBoxResize, PackVLSMInputs
from mmvlsm.models import CRIS
from mmvlsm.registry import MODELS
from mmvlsm.testing import save_tiny_openai_clip

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TINY_CONFIG = osp.join(REPO, 'configs', 'cris',
                       'cris-tiny_1xb16-40it_toy-shapes-128x128.py')
# Parameters of the official CRIS R50 state dict (cris_r50_state_dict_keys
# .txt), the unused CLIP `logit_scale` among them, and its BN buffers.
OFFICIAL_R50_PARAMS = 146_849_122
OFFICIAL_R50_BN_STATS = 72_704  # running means and variances
OFFICIAL_R50_BN_COUNTERS = 71  # num_batches_tracked, one per BN


def tiny_model_cfg(**overrides):
    cfg = Config.fromfile(TINY_CONFIG).model
    cfg.update(overrides)
    return cfg


def build(cfg):
    init_default_scope('mmvlsm')
    return MODELS.build(cfg)


def samples(texts, ori_shape=(128, 128), img_shape=(128, 128), gt=None):
    out = []
    for i, text in enumerate(texts):
        sample = SegDataSample(
            metainfo=dict(text=text, ori_shape=ori_shape, img_shape=img_shape))
        if gt is not None:
            sample.gt_sem_seg = PixelData(data=gt[i])
        out.append(sample)
    return out


@pytest.fixture(scope='module')
def r50():
    """CRIS with CLIP RN50 at the official sizes, random weights."""
    torch.manual_seed(0)
    return CRIS(clip_pretrained=None).eval()


@pytest.fixture(scope='module')
def tiny():
    torch.manual_seed(0)
    return build(tiny_model_cfg()).eval()


def test_r50_shapes_at_each_stage_for_416_inputs(r50):
    inputs = torch.randn(2, 3, 416, 416)
    data_samples = samples(['a polyp', 'the small red polyp on the left'],
                           ori_shape=(300, 500),
                           img_shape=(416, 416))
    with torch.no_grad():
        c3, c4, c5 = r50.extract_feat(inputs)
        input_ids, attention_mask = r50.tokenize(data_samples, 'cpu')
        words, state, pad_mask = r50.encode_text(input_ids, attention_mask)
        queries = r50.neck((c3, c4, c5), state)
        decoded = r50.decode_head.decoder(queries, words, pad_mask)
        logits = r50.decode_head.proj(decoded, state)
        predicted = r50.predict(inputs, data_samples)
    assert c3.shape == (2, 512, 52, 52)
    assert c4.shape == (2, 1024, 26, 26)
    assert c5.shape == (2, 1024, 13, 13)
    length = input_ids.shape[1]
    assert words.shape == (2, length, 512)
    assert state.shape == (2, 1024)
    # The short prompt is padded to the long one's length, and masked.
    assert torch.equal(pad_mask, attention_mask == 0)
    assert pad_mask[0].any() and not pad_mask[1].any()
    assert queries.shape == decoded.shape == (2, 512, 26, 26)
    assert logits.shape == (2, 1, 104, 104)
    for sample in predicted:
        assert sample.pred_sem_seg.data.shape == (1, 300, 500)


def test_r50_parameter_count(r50):
    params = sum(p.numel() for p in r50.parameters())
    buffers = dict(stats=0, counters=0)
    for name, buffer in r50.named_buffers():
        if name.endswith('num_batches_tracked'):
            buffers['counters'] += buffer.numel()
        elif name.endswith(('running_mean', 'running_var')):
            buffers['stats'] += buffer.numel()
    print(f'CRIS R50: {params:,} parameters + the unused CLIP logit_scale '
          f'= {params + 1:,} (official {OFFICIAL_R50_PARAMS:,}); buffers '
          f'not counted: {buffers["stats"]:,} BN running means/variances '
          f'and {buffers["counters"]} num_batches_tracked')
    # Official CRIS keeps CLIP's logit_scale (1 parameter), unused by CRIS.
    assert params + 1 == OFFICIAL_R50_PARAMS
    assert buffers == dict(
        stats=OFFICIAL_R50_BN_STATS, counters=OFFICIAL_R50_BN_COUNTERS)


def test_text_encoder_matches_open_clip(tiny):
    """Words and sentence equal open_clip's TextTransformer with the same
    weights on the full 77-token context (CLIP's usage, pad id 0)."""
    encoder = tiny.text_encoder
    reference = TextTransformer(
        width=64, heads=2, layers=2, output_dim=64, output_tokens=True)
    # open_clip's default activation is GELU, CLIP's quick GELU.
    for block, ours in zip(reference.transformer.resblocks,
                           encoder.transformer.resblocks):
        block.mlp.gelu = ours.mlp.gelu
    reference.load_state_dict(encoder.state_dict())
    reference.eval()
    ids = torch.zeros(2, 77, dtype=torch.long)
    ids[0, :4] = torch.tensor([49406, 320, 6833, 49407])
    ids[1, :6] = torch.tensor([49406, 320, 1400, 736, 6833, 49407])
    with torch.no_grad():
        words, state = encoder(ids, (ids != 0).long())
        ref_state, ref_words = reference(ids)
    torch.testing.assert_close(state, ref_state)
    torch.testing.assert_close(words, ref_words)


def test_padding_tokens_do_not_change_the_output(tiny):
    inputs = torch.randn(1, 3, 128, 128)
    feats = tiny.extract_feat(inputs)
    prompt = [49406, 320, 1400, 6833, 49407]

    def logits(ids, mask):
        ids, mask = torch.tensor([ids]), torch.tensor([mask])
        with torch.no_grad():
            return tiny.decode(feats, tiny.encode_text(ids, mask))

    alone = logits(prompt, [1] * 5)
    ones = [1] * 5 + [0] * 12
    # Padded to CRIS's 17 words with 0 (official) or the end token (CLIP
    # tokenizers on the Hub): the same output.
    torch.testing.assert_close(logits(prompt + [0] * 12, ones), alone)
    torch.testing.assert_close(logits(prompt + [49407] * 12, ones), alone)
    # Without the padding mask the padding words would change it.
    ids = torch.tensor([prompt + [49407] * 12])
    words, state, _ = tiny.encode_text(ids, torch.tensor([ones]))
    with torch.no_grad():
        unmasked = tiny.decode(
            feats, (words, state, torch.zeros(1, 17, dtype=torch.bool)))
    assert not torch.allclose(unmasked, alone, atol=1e-4)


def test_padding_in_a_batch(tiny):
    """A prompt batched with a longer one (so padded) gives what it gives
    alone."""
    inputs = torch.randn(1, 3, 128, 128).expand(2, -1, -1, -1)
    with torch.no_grad():
        batch = tiny.encode_decode(
            inputs, samples(['a circle', 'the big blue square at the top']))
        alone = tiny.encode_decode(inputs[:1], samples(['a circle']))
    torch.testing.assert_close(batch[:1], alone)


def test_official_loss_is_bce_on_quarter_resolution_logits():
    torch.manual_seed(0)
    model = build(
        tiny_model_cfg(
            losses=dict(type='SigmoidBCELoss'),
            train_cfg=dict(loss_size='logits'))).eval()
    inputs = torch.randn(2, 3, 128, 128)
    gt = torch.randint(0, 2, (2, 1, 128, 128))
    data_samples = samples(['a circle', 'a square'], gt=gt)
    with torch.no_grad():
        losses = model.loss(inputs, data_samples)
        logits = model.encode_decode(inputs, data_samples)
    assert logits.shape == (2, 1, 32, 32)
    # Nearest downsampling by 4 keeps every 4th pixel.
    expected = F.binary_cross_entropy_with_logits(logits,
                                                  gt[:, :, ::4, ::4].float())
    assert set(losses) == {'loss_bce'}
    torch.testing.assert_close(losses['loss_bce'], expected)


def test_medvlsm_loss_is_dice_and_bce_at_input_resolution():
    torch.manual_seed(0)
    model = build(
        tiny_model_cfg(
            losses=[dict(type='SoftDiceLoss'),
                    dict(type='SigmoidBCELoss')],
            train_cfg=None)).eval()
    inputs = torch.randn(2, 3, 128, 128)
    gt = torch.randint(0, 2, (2, 1, 128, 128))
    data_samples = samples(['a circle', 'a square'], gt=gt)
    with torch.no_grad():
        losses = model.loss(inputs, data_samples)
        logits = F.interpolate(
            model.encode_decode(inputs, data_samples),
            size=(128, 128),
            mode='bilinear')
    target = gt.float()
    prob = logits.sigmoid()
    dice = 1 - (2 * (prob * target).sum((2, 3)) + 1e-5) / (
        prob.sum((2, 3)) + target.sum((2, 3)) + 1e-5)
    torch.testing.assert_close(losses['loss_dice'], dice.mean())
    torch.testing.assert_close(
        losses['loss_bce'], F.binary_cross_entropy_with_logits(logits, target))


def test_loss_size_is_checked():
    with pytest.raises(ValueError, match='loss_size'):
        build(tiny_model_cfg(train_cfg=dict(loss_size='mask')))


@pytest.mark.parametrize('flip', [False, True])
def test_letterboxed_predictions_map_back_to_the_original_image(tiny, flip):
    """Logits that mark the letterboxed mask (and all the padding) as
    foreground give back the original mask: the padding is dropped and the
    image area is stretched back exactly."""
    ori = np.zeros((60, 100), np.uint8)
    ori[10:40, 20:70] = 1
    ori[45:55, 80:95] = 1
    results = LetterBoxResize(scale=(64, 64))(
        dict(
            img=np.zeros((60, 100, 3), np.uint8),
            gt_seg_map=ori.copy(),
            seg_fields=['gt_seg_map']))
    assert results['img_shape'] == (64, 64)
    top = (64 - 38.4) / 2  # the image is 38.4 x 64 in the frame
    mask = torch.from_numpy(results['gt_seg_map']).float()
    rows = torch.arange(64)[:, None].float() + 0.5
    padding = (rows < top) | (rows > 64 - top)
    logits = torch.where((mask > 0) | padding, 8.0, -8.0)[None, None]
    meta = dict(
        ori_shape=(60, 100),
        img_shape=results['img_shape'],
        letterbox_size=results['letterbox_size'],
        text='x')
    if flip:
        logits = logits.flip(-1)
        meta.update(flip=True, flip_direction='horizontal')
    pred = tiny.postprocess_result(
        logits,
        [SegDataSample(metainfo=meta)])[0].pred_sem_seg.data[0].numpy()
    assert pred.shape == (60, 100)
    # Equal but for a pixel's width at the edges of the shapes.
    assert (pred != ori).mean() < 0.03
    assert pred[:8].sum() == 0 and pred[-4:].sum() == 0


# OpenCV 4 (official CRIS's) rounds warpAffine's source coordinates to
# 1/32 pixel: up to ~2e-2 on probabilities at the image's edges, ~7e-3
# inside; OpenCV 5 does not: ~3e-5.
OFFICIAL_PROB_ATOL = 1e-4 if int(cv2.__version__.split('.')[0]) >= 5 else 3e-2


def smooth_logits(batch, side=104):
    """Random logits as smooth as CRIS's, most far from the threshold."""
    return F.interpolate(
        torch.randn(batch, 1, side // 4, side // 4) * 8,
        size=(side, side),
        mode='bicubic')


def official_cris_probabilities(logit, ori_shape, frame=(416, 416)):
    """Official CRIS's inference() on one (1, h, w) logit map: sigmoid,
    bicubic to the input (align_corners=True), then OpenCV's cubic warp by
    the inverse of its letterbox matrix (corners to corners, float32)."""
    h, w = ori_shape
    s = min(frame[0] / h, frame[1] / w)
    x0, y0 = (frame[1] - w * s) / 2, (frame[0] - h * s) / 2
    corners = np.float32([[0, 0], [w, 0], [0, h]])
    placed = np.float32([[x0, y0], [x0 + w * s, y0], [x0, y0 + h * s]])
    mat_inv = cv2.getAffineTransform(placed, corners)
    prob = F.interpolate(
        logit[None].sigmoid(), size=frame, mode='bicubic',
        align_corners=True)[0, 0].numpy()
    return cv2.warpAffine(
        prob, mat_inv, (w, h), flags=cv2.INTER_CUBIC, borderValue=0.)


@pytest.fixture(scope='module')
def tiny_official():
    torch.manual_seed(0)
    return build(
        tiny_model_cfg(
            test_cfg=dict(threshold=0.35, postprocess='official'))).eval()


def test_official_postprocessing_matches_official_cris(tiny_official):
    """A batch of landscape and portrait images letterboxed as official CRIS
    does; each group mapped back at once equals official CRIS's per-image
    OpenCV post-processing, masks but for pixels at the threshold."""
    shapes = [(576, 720), (720, 576), (300, 417), (576, 720)]
    samples = []
    for shape in shapes:
        results = LetterBoxResize(
            scale=(416, 416), half_pixel=False)(
                dict(
                    img=np.zeros((*shape, 3), np.uint8),
                    ori_shape=shape,
                    text='a polyp'))
        samples.append(PackVLSMInputs()(results)['data_samples'])
    torch.manual_seed(1)
    logits = smooth_logits(len(shapes))
    out = tiny_official.postprocess_result(logits, samples)
    for logit, shape, sample in zip(logits, shapes, out):
        ref = official_cris_probabilities(logit, shape)
        prob = sample.seg_logits.data[0].sigmoid().numpy()
        pred = sample.pred_sem_seg.data[0].numpy()
        assert prob.shape == pred.shape == shape
        np.testing.assert_allclose(
            prob, ref.clip(1e-6, 1 - 1e-6), atol=OFFICIAL_PROB_ATOL, rtol=0)
        differ = pred != (ref > 0.35)
        assert differ.mean() <= 0.005
        # Only where official CRIS's probability is at the threshold.
        assert np.all(np.abs(ref[differ] - 0.35) <= OFFICIAL_PROB_ATOL)


def test_official_postprocessing_of_plain_resized_inputs(tiny_official):
    """Without a letterbox the plain resize's map is inverted: inside the
    image as OpenCV's bicubic resize from the input to the original."""
    shape = (300, 417)
    torch.manual_seed(2)
    logits = smooth_logits(1)
    out = tiny_official.postprocess_result(
        logits, samples(['a polyp'], ori_shape=shape, img_shape=(416, 416)))
    prob = out[0].seg_logits.data[0].sigmoid().numpy()
    up = F.interpolate(
        logits.sigmoid(), size=(416, 416), mode='bicubic',
        align_corners=True)[0, 0].numpy()
    ref = cv2.resize(up, shape[::-1], interpolation=cv2.INTER_CUBIC)
    np.testing.assert_allclose(
        prob[2:-2, 2:-2],
        ref[2:-2, 2:-2].clip(1e-6, 1 - 1e-6),
        atol=OFFICIAL_PROB_ATOL,
        rtol=0)
    assert torch.equal(out[0].pred_sem_seg.data[0],
                       torch.from_numpy(prob > 0.35).long())


def test_postprocess_is_checked():
    with pytest.raises(ValueError, match='postprocess'):
        build(tiny_model_cfg(test_cfg=dict(postprocess='opencv')))


def test_clip_pretrained_initialises_backbone_and_text(tmp_path):
    path = str(tmp_path / 'RN_tiny.pt')
    save_tiny_openai_clip(path)
    archive = torch.jit.load(path).state_dict()
    model = build(tiny_model_cfg(clip_pretrained=path))
    torch.testing.assert_close(model.backbone.conv1.weight,
                               archive['visual.conv1.weight'])
    torch.testing.assert_close(model.backbone.layer4[0].bn3.weight,
                               archive['visual.layer4.0.bn3.weight'])
    torch.testing.assert_close(model.backbone.attnpool.q_proj.weight,
                               archive['visual.attnpool.q_proj.weight'])
    torch.testing.assert_close(model.text_encoder.text_projection,
                               archive['text_projection'])
    torch.testing.assert_close(
        model.text_encoder.transformer.resblocks[1].mlp.c_fc.weight,
        archive['transformer.resblocks.1.mlp.c_fc.weight'])


def test_clip_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='RN50.pt'):
        build(tiny_model_cfg(clip_pretrained=str(tmp_path / 'RN50.pt')))
    path = str(tmp_path / 'wide.pt')
    save_tiny_openai_clip(path, width=16, embed_dim=128)
    with pytest.raises(ValueError, match='conv1.weight'):
        build(tiny_model_cfg(clip_pretrained=path))
    garbage = tmp_path / 'garbage.pt'
    garbage.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='garbage.pt'):
        build(tiny_model_cfg(clip_pretrained=str(garbage)))


def test_input_size_must_be_a_multiple_of_32(tiny):
    with pytest.raises(ValueError, match='divisible by 32'):
        tiny.extract_feat(torch.randn(1, 3, 100, 128))


def test_context_length_must_fit_the_position_embedding():
    with pytest.raises(ValueError, match='context_length 78'):
        build(tiny_model_cfg(context_length=78))


def test_frozen_backbone_keeps_its_batch_norm_statistics():
    model = build(tiny_model_cfg(freeze_vision=True, freeze_text=True))
    model.train()
    assert not model.backbone.training and model.neck.training
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert not any(p.requires_grad for p in model.text_encoder.parameters())
    before = model.backbone.bn1.running_mean.clone()
    gt = torch.randint(0, 2, (2, 1, 128, 128))
    losses = model.loss(
        torch.randn(2, 3, 128, 128), samples(['a', 'b'], gt=gt))
    sum(losses.values()).backward()
    torch.testing.assert_close(model.backbone.bn1.running_mean, before)
    assert model.decode_head.proj.txt.weight.grad is not None


def test_repeated_prompts_are_encoded_once(tiny):
    """Word features, sentence feature and padding mask of each distinct
    prompt are computed once and given to every image that has it."""
    texts = ['a polyp', 'a big red polyp on the left', 'a polyp']
    encoded = []
    handle = tiny.text_encoder.register_forward_pre_hook(
        lambda module, args: encoded.append(args[0]))
    images = torch.randn(3, 3, 128, 128)
    ids, mask = tiny.tokenize(samples(texts), torch.device('cpu'))
    with torch.no_grad():
        expected = tiny.segment(images, ids, mask)
        encoded.clear()
        logits = tiny._forward(images, samples(texts))
    handle.remove()
    assert len(encoded) == 1 and torch.equal(encoded[0], ids[:2])
    torch.testing.assert_close(logits, expected)
