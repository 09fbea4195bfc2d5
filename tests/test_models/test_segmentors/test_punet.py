# Copyright (c) OpenMMLab. All rights reserved.
import re

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmvlsm.models.backbones import PUNetEncoder
from mmvlsm.models.decode_heads import PUNetDecoder, SimilarityAggregationHead
from mmvlsm.models.segmentors import punet as punet_module
from mmvlsm.registry import MODELS
from mmvlsm.structures import VolumeData

TINY = dict(channels=(8, 16, 16, 16, 16), heads=2, window=(4, 4))


def tiny_punet(**kwargs):
    init_default_scope('mmvlsm')
    cfg = dict(
        type='PUNet',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[127.5],
            std=[127.5],
            size_divisor=2),
        backbone=dict(type='PUNetEncoder', **TINY),
        decoder=dict(
            type='PUNetDecoder',
            channels=TINY['channels'],
            heads=2,
            window=(4, 4)),
        head=dict(type='SimilarityAggregationHead', channels=8))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def samples(classes, size=32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    out = []
    for active in classes:
        sample = SegDataSample(
            metainfo=dict(
                active_class=active,
                img_shape=(size, size),
                ori_shape=(size, size)))
        mask = (torch.rand(1, size, size, generator=generator) > 0.6).long()
        sample.gt_sem_seg = PixelData(data=mask)
        out.append(sample)
    return out


def test_full_size_counts():
    encoder, decoder, head = (PUNetEncoder(), PUNetDecoder(),
                              SimilarityAggregationHead())
    named = [(f'e.{n}', p) for n, p in encoder.named_parameters()]
    named += [(f'd.{n}', p) for n, p in decoder.named_parameters()]
    named += [(f'h.{n}', p) for n, p in head.named_parameters()]
    prompt_parts = ('.pools.', '.pool.', 'prompt_embeddings', 'prompt_weights')
    body = sum(p.numel() for n, p in named
               if not any(part in n for part in prompt_parts))
    # Stem, convolutions, norms, attention and the image-to-image bias.
    assert body == 6_758_304
    per_class = sum(p.numel() for n, p in named
                    if n.endswith(('prompts.4', 'prompt_embeddings.4')))
    shared = sum(p.numel() for n, p in named if n.endswith('prompt_weights'))
    # 16 tokens in 18 block pools and the head's pool, the class's
    # image-to-prompt bias embeddings, and the shared bias projections.
    assert per_class == 43_520 + 9_216
    assert per_class + shared == 57_344
    assert 100 * (per_class + shared) / body == pytest.approx(0.85, abs=0.01)


def test_prompts_steer_the_embedding_and_non_prompted_ignores_them():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 32, 32)
    for prompted, differs in ((True, True), (False, False)):
        model = tiny_punet(
            backbone=dict(type='PUNetEncoder', prompted=prompted, **TINY),
            decoder=dict(
                type='PUNetDecoder',
                channels=TINY['channels'],
                heads=2,
                window=(4, 4),
                prompted=prompted)).eval()
        with torch.no_grad():
            a = model.embed(x, torch.tensor([[1], [2]]))
            b = model.embed(x, torch.tensor([[3], [2]]))
        assert (not torch.allclose(a[0], b[0])) == differs
        torch.testing.assert_close(a[1], b[1])


def test_upstream_similarity_and_mask_options_change_the_output():
    torch.manual_seed(0)
    head = SimilarityAggregationHead(channels=8, aggregation='mean')
    upstream = SimilarityAggregationHead(
        channels=8, aggregation='mean', similarity='upstream')
    upstream.load_state_dict(head.state_dict())
    embedding = torch.randn(1, 8, 4, 4)
    classes = torch.tensor([[0, 3]])
    scaled, shifted = head(embedding, classes), upstream(embedding, classes)
    # mean((cos + 1) / 2) vs mean(cos + 0.5): same cosine, other offsets.
    torch.testing.assert_close(shifted, 2 * scaled - 0.5)

    x = torch.randn(1, 1, 40, 40)
    outs = []
    for mask_mode in ('additive', 'multiplicative'):
        torch.manual_seed(1)
        model = tiny_punet(
            backbone=dict(type='PUNetEncoder', mask_mode=mask_mode, **
                          TINY)).eval()
        with torch.no_grad():
            outs.append(model.embed(x, torch.tensor([[1]])))
    assert not torch.allclose(outs[0], outs[1])


def test_phase2_prompting_trains_only_the_new_class(tmp_path):
    torch.manual_seed(0)
    host = tiny_punet()
    checkpoint = tmp_path / 'phase1.pth'
    torch.save({'state_dict': host.state_dict()}, checkpoint)
    new = 4
    model = tiny_punet(
        adapt_cfg=dict(
            host_checkpoint=str(checkpoint),
            trainable=[
                rf're:.*\.prompts\.{new}', rf're:.*prompt_embeddings\.{new}',
                r're:.*prompt_weights'
            ]))

    def tensors():
        # Parameters and buffers (batch-norm statistics) alike; the state
        # dict of an adapted model holds only what trains.
        return {
            **dict(model.named_parameters()),
            **dict(model.named_buffers())
        }

    before = {k: v.detach().clone() for k, v in tensors().items()}
    optim = build_optim_wrapper(
        model,
        dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-2, weight_decay=1e-2)))
    model.train()
    data = dict(
        inputs=[torch.randint(0, 255, (1, 32, 32), dtype=torch.uint8)] * 2,
        data_samples=samples([new, new]))
    model.train_step(data, optim)
    changed = {
        k
        for k, v in tensors().items() if not torch.equal(v, before[k])
    }
    assert changed and all(
        k.endswith((f'prompts.{new}', f'prompt_embeddings.{new}',
                    'prompt_weights')) for k in changed), changed
    # Every pool and bias has the class: 18 blocks' pools and biases, the
    # head's pool, 18 shared projections.
    assert len(changed) == 18 * 3 + 1


def test_phase1_losses_with_teacher_and_student_views():
    torch.manual_seed(0)
    model = tiny_punet(
        cpa_loss=dict(type='ContrastivePrototypeLoss', loss_weight=1e-2),
        student_sizes=((24, 24), (16, 16)))
    teacher_before = [p.clone() for p in model.teacher.parameters()]
    optim = build_optim_wrapper(
        model,
        dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-2)))
    data = dict(
        inputs=[torch.randint(0, 255, (1, 32, 32), dtype=torch.uint8)] * 2,
        data_samples=samples([1, 3]))
    model.train()
    # The teacher starts as a copy: the first update cannot move it.
    model.train_step(data, optim)
    log = model.train_step(data, optim)
    assert {'loss_focal_s0', 'loss_focal_s1', 'loss_cpa_s0',
            'loss_cpa_s1'} <= set(log)
    assert all(torch.isfinite(v) for v in log.values())
    # The teacher moved towards the trained student (EMA before each step),
    # and is not trained by the optimizer.
    assert not all(
        torch.equal(a, b)
        for a, b in zip(teacher_before, model.teacher.parameters()))
    assert not any(p.requires_grad for p in model.teacher.parameters())
    # The student views: even offsets, coordinates follow crops and flips.
    model.student_augment = dict(flip=True)
    image = torch.arange(32 * 32, dtype=torch.float32).view(1, 1, 32, 32)
    for view, mask, coords in model._student_views(
            image, torch.zeros(1, 32, 32, dtype=torch.long)):
        ys, xs = coords[0, 0].long(), coords[0, 1].long()
        torch.testing.assert_close(view[0, 0], image[0, 0][ys, xs])
        assert int(coords[0, 0].min()) % 2 == 0
    # ... and the affine warp: on a linear ramp, every pixel of a warped
    # view away from the reflected border shows the ramp at its coordinates.
    model.student_augment = dict(affine_prob=1.0, rotate=0.4, scale=0.25)
    ys, xs = torch.meshgrid(
        torch.arange(32.), torch.arange(32.), indexing='ij')
    ramp = (3 * ys + xs)[None, None].expand(4, 1, 32, 32)
    for view, _, coords in model._student_views(
            ramp, torch.zeros(4, 32, 32, dtype=torch.long)):
        inside = ((coords > 1) & (coords < 30)).all(dim=1, keepdim=True)
        expected = 3 * coords[:, :1] + coords[:, 1:]
        assert inside.float().mean() > 0.3
        torch.testing.assert_close(
            view[inside], expected[inside], rtol=0, atol=1e-3)


def test_active_class_outside_the_pools_is_named():
    model = tiny_punet()
    with pytest.raises(ValueError, match=r'active_class \[12\] outside'):
        model.active_classes(
            [dict(active_class=3), dict(active_class=12)], 'cpu')
    with pytest.raises(KeyError, match='needs `active_class`'):
        model.active_classes([dict()], 'cpu')


# 3D: maps (B, C, H, W, D), depth last. A window of depth 2 and a patch
# depth of 8 (upstream's depth rules: depth kernels 3 and strides 2 in the
# first levels).
TINY_3D = dict(
    channels=(8, 16, 16, 16, 16), heads=2, window=(4, 4, 2), patch_depth=8)


def tiny_punet_3d(**kwargs):
    init_default_scope('mmvlsm')
    cfg = dict(
        type='PUNet',
        backbone=dict(type='PUNetEncoder', **TINY_3D),
        decoder=dict(type='PUNetDecoder', **TINY_3D),
        head=dict(type='SimilarityAggregationHead', channels=8),
        student_sizes=((24, 24, 8), (16, 16, 8)))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def volume_samples(classes, shape=(32, 32, 8), seed=0):
    generator = torch.Generator().manual_seed(seed)
    out = []
    for active in classes:
        sample = SegDataSample(
            metainfo=dict(
                active_class=active,
                ori_shape=shape,
                spacing=(1.5, 1.5, 3.0),
                dataset_name='tiny',
                img_path=f'{active}.nii.gz'))
        mask = (torch.rand(1, *shape, generator=generator) > 0.6).long()
        sample.gt_sem_seg = VolumeData(data=mask)
        out.append(sample)
    return out


# Upstream's fields of view: window, patch depth, body parameters. Only the
# depth kernels (3 in the levels whose depth is at least 3: stem and level
# 0 for depth 4, levels 0 and 1 too for depth 8) and the content bias
# tables ((2w - 1) rows per window axis) differ from 2D's 6,758,304; the
# prompts (52,736 per class, 4,608 shared) are the same.
FIELDS_OF_VIEW = {
    '3d_flat': ((6, 6, 2), 4, 6_792_288),
    '3d_aniso': ((4, 4, 4), 8, 6_882_144),
    '3d_large': ((6, 6, 4), 8, 6_886_752),
}


@pytest.mark.parametrize('name', sorted(FIELDS_OF_VIEW))
def test_full_size_counts_3d(name):
    window, depth, expected = FIELDS_OF_VIEW[name]
    parts = {
        '2d': (PUNetEncoder(), PUNetDecoder()),
        name: (PUNetEncoder(window=window, patch_depth=depth),
               PUNetDecoder(window=window, patch_depth=depth))
    }
    head = SimilarityAggregationHead()
    prompt_parts = ('.pools.', '.pool.', 'prompt_embeddings', 'prompt_weights')
    counts = {}
    for key, (encoder, decoder) in parts.items():
        named = [(f'e.{n}', p) for n, p in encoder.named_parameters()]
        named += [(f'd.{n}', p) for n, p in decoder.named_parameters()]
        named += [(f'h.{n}', p) for n, p in head.named_parameters()]

        def total(keep):
            return sum(p.numel() for n, p in named if keep(n, p))

        counts[key] = dict(
            body=total(lambda n, p: not any(x in n for x in prompt_parts)),
            kernels=total(lambda n, p: p.dim() >= 4),
            tables=total(lambda n, p: 'content_tables' in n),
            per_class=total(lambda n, p: n.endswith(
                ('prompts.4', 'prompt_embeddings.4'))),
            shared=total(lambda n, p: n.endswith('prompt_weights')))
    flat, deep = counts['2d'], counts[name]
    print(f'{name}: window {window}, patch depth {depth}: body '
          f'{deep["body"]:,} (2D {flat["body"]:,}; conv kernels '
          f'{deep["kernels"] - flat["kernels"]:+,}, bias tables '
          f'{deep["tables"] - flat["tables"]:+,}), per class '
          f'{deep["per_class"]:,}, shared {deep["shared"]:,}')
    assert deep['body'] == expected
    assert flat['body'] == 6_758_304
    assert deep['body'] - flat['body'] == (
        deep['kernels'] - flat['kernels'] + deep['tables'] - flat['tables'])
    assert (deep['per_class'], deep['shared']) == (52_736, 4_608)


def test_phase1_loss_3d_reaches_the_active_prompts_only():
    torch.manual_seed(0)
    model = tiny_punet_3d(
        cpa_loss=dict(type='ContrastivePrototypeLoss', loss_weight=1e-2))
    model.train()
    inputs = torch.rand(2, 1, 32, 32, 8) * 2 - 1
    losses = model.loss(inputs, volume_samples([1, 3]))
    assert set(losses) == {
        'loss_focal_s0', 'loss_focal_s1', 'loss_cpa_s0', 'loss_cpa_s1'
    }
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    prompted = 0
    for name, param in model.named_parameters():
        found = re.search(r'(prompts|prompt_embeddings)\.(\d+)$', name)
        if not found or name.startswith('teacher.'):
            continue
        # The blocks see the active classes, the head also the background.
        active = {1, 3} | ({0} if name.startswith('head.') else set())
        used = param.grad is not None and param.grad.abs().sum() > 0
        assert used == (int(found.group(2)) in active), name
        prompted += used
    # 18 blocks' pools and biases for two classes, the head's pool for
    # three.
    assert prompted == 18 * 2 * 2 + 3
    assert all(p.grad is None for p in model.teacher.parameters())


def test_student_views_3d_follow_crops_and_flips():
    model = tiny_punet_3d(
        student_sizes=((24, 20, 6), (16, 16, 8)),
        student_augment=dict(flip=True))
    torch.manual_seed(0)
    image = torch.arange(32 * 32 * 8, dtype=torch.float32)
    image = image.view(1, 1, 32, 32, 8).expand(16, 1, 32, 32, 8)
    target = (image[:, 0] % 3 == 0).long()
    flipped = torch.zeros(2, dtype=torch.bool)
    for (view, mask, coords), size in zip(
            model._student_views(image, target), model.student_sizes):
        assert view.shape == (16, 1, *size) and mask.shape == (16, *size)
        assert coords.shape == (16, 3, *size)
        ys, xs, zs = coords.long().unbind(1)
        b = torch.arange(16).view(16, 1, 1, 1)
        torch.testing.assert_close(view[:, 0], image[b, 0, ys, xs, zs])
        torch.testing.assert_close(mask, target[b, ys, xs, zs])
        # Even in-plane offsets; depth never flipped, at any offset.
        assert (coords[:, :2].amin(dim=(2, 3, 4)) % 2 == 0).all()
        assert (zs.diff(dim=-1) == 1).all()
        # Flips move coordinates: some samples run backwards in y or x.
        flipped |= torch.stack([(ys.diff(dim=1) < 0).any(), (xs.diff(dim=2)
                                                             < 0).any()])
    assert flipped.all()
    # The embedding's coordinates: 2 x 2 in-plane block centres, full
    # depth.
    embedding = punet_module._embedding_coords(
        punet_module._pixel_grid(image[:1]))
    assert embedding.shape == (1, 3, 16, 16, 8)
    torch.testing.assert_close(embedding[0, 0, :, 0, 0],
                               torch.arange(16.) * 2 + 0.5)
    torch.testing.assert_close(embedding[0, 2, 0, 0], torch.arange(8.))


def test_student_views_3d_affine_coordinates_are_exact():
    model = tiny_punet_3d(
        student_sizes=((24, 24, 6), ),
        student_augment=dict(
            affine_prob=1.0, rotate=0.4, scale=0.25, shear=0.025))
    torch.manual_seed(0)
    ys, xs, zs = torch.meshgrid(
        torch.arange(32.), torch.arange(32.), torch.arange(8.), indexing='ij')
    ramp = (3 * ys + xs + 5 * zs)[None, None].expand(4, 1, 32, 32, 8)
    (view, _, coords), = model._student_views(
        ramp, torch.zeros(4, 32, 32, 8, dtype=torch.long))
    # Away from the reflected in-plane border every voxel shows the ramp at
    # its coordinates.
    inside = ((coords[:, :2] > 1) & (coords[:, :2] < 30)).all(
        dim=1, keepdim=True)
    expected = 3 * coords[:, :1] + coords[:, 1:2] + 5 * coords[:, 2:]
    assert inside.float().mean() > 0.3
    torch.testing.assert_close(
        view[inside], expected[inside], rtol=0, atol=1e-3)
    # The warp is in-plane: it moved y and x off the voxel grid, while
    # every slice keeps its depth (upstream's zero depth ranges).
    assert (coords[:, :2] - coords[:, :2].round()).abs().max() > 0.1
    depth = coords[:, 2, :1, :1].round().expand_as(coords[:, 2])
    torch.testing.assert_close(coords[:, 2], depth, rtol=0, atol=1e-4)
    assert (depth[:, 0, 0].diff(dim=-1) == 1).all()
    # Dropout and the intensity shift run on volumes too.
    augmented = punet_module._coarse_dropout(ramp, 1.0)
    assert not torch.equal(augmented, ramp)
    shifted = model._augment(ramp, ramp[:, 0].long(),
                             punet_module._pixel_grid(ramp),
                             dict(intensity_prob=1.0))[0]
    assert (shifted >= ramp).all() and (shifted > ramp).any()


def test_predict_3d_whole_roi_equals_the_network():
    torch.manual_seed(0)
    shape = (36, 32, 10)
    model = tiny_punet_3d(test_cfg=dict(roi_size=shape)).eval()
    inputs = torch.rand(2, 1, *shape) * 2 - 1
    with torch.no_grad():
        expected = model.segment(inputs, torch.tensor([[1], [3]]))
        out = model.predict(inputs, volume_samples([1, 3], shape))
    for sample, logits in zip(out, expected):
        assert isinstance(sample.seg_logits, VolumeData)
        torch.testing.assert_close(sample.seg_logits.data, logits)
        assert sample.pred_sem_seg.data.shape == (1, *shape)
        torch.testing.assert_close(sample.pred_sem_seg.data,
                                   logits.argmax(dim=0, keepdim=True))
    # The default roi is the first student size, smaller than the volume
    # (2 x 2 x 2 windows).
    model.test_cfg = dict(sw_batch_size=4)
    with torch.no_grad():
        out = model.predict(inputs[:1], volume_samples([1], shape))
    assert out[0].seg_logits.shape == shape
    assert torch.isfinite(out[0].seg_logits.data).all()


@pytest.mark.parametrize('mode', ['constant', 'gaussian'])
def test_predict_3d_sliding_window_covers_every_voxel(mode):
    shape = (40, 36, 10)
    model = tiny_punet_3d(
        test_cfg=dict(roi_size=(16, 16, 4), overlap=0.5, mode=mode))
    windows = []

    def segment(x, classes):
        # Position-independent, so the stitched result must be it exactly
        # wherever some window covered the voxel (0 / 0 elsewhere).
        windows.append(tuple(x.shape))
        return torch.cat([x, x * classes.view(-1, 1, 1, 1, 1)], dim=1)

    model.segment = segment
    inputs = torch.rand(2, 1, *shape) + 1
    out = model.predict(inputs, volume_samples([1, 3], shape))
    assert set(windows) == {(1, 1, 16, 16, 4)}
    # Half-overlapping windows: 4 x 4 x 4 positions per volume.
    assert len(windows) == 2 * 4 * 4 * 4
    for sample, volume, active in zip(out, inputs, (1, 3)):
        torch.testing.assert_close(sample.seg_logits.data,
                                   torch.cat([volume, volume * active]))
        # Class 1 ties with the background (argmax 0), class 3 wins.
        assert (sample.pred_sem_seg.data == int(active > 1)).all()
