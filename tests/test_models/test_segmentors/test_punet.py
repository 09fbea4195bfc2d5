# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmvlsm.models.backbones import PUNetEncoder
from mmvlsm.models.decode_heads import PUNetDecoder, SimilarityAggregationHead
from mmvlsm.registry import MODELS

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
        model.active_classes([dict(active_class=3), dict(active_class=12)],
                             'cpu')
    with pytest.raises(KeyError, match='needs `active_class`'):
        model.active_classes([dict()], 'cpu')
