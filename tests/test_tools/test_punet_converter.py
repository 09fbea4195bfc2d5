# Copyright (c) OpenMMLab. All rights reserved.
"""tools/model_converters/punet2mmvlsm.py on the upstream PUNet fixtures
(tests/data/punet_upstream_72365e1, see its README)."""
import io
import lzma
import os
import os.path as osp
import sys
from typing import Dict, Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import Tensor

from mmvlsm.models.utils.punet_checkpoint import (PUNET_STUDENT_PREFIX,
                                                  PUNET_TEACHER_PREFIX,
                                                  drop_depth_axis,
                                                  punet_to_mmvlsm)
from mmvlsm.registry import MODELS
from .conftest import REPO, load_tool, refuses_to_replace_input, run_tool

FIXTURES = osp.join(REPO, 'tests', 'data', 'punet_upstream_72365e1')
CONVERTER = 'tools/model_converters/punet2mmvlsm.py'
TINY_CONFIG = osp.join(REPO, 'configs', 'punet',
                       'punet-tiny-meta-self_1xb8-200it_toy-organs-64x64.py')
# The tiny config has the fixtures' channels, heads and 2D window; the
# fixtures' pools hold 5 classes of 4 tokens.
FIXTURE_POOLS = dict(num_classes=5, num_tokens=4)
FIXTURE_OPTIONS = [
    f'model.{part}.{name}={value}' for part in ('backbone', 'decoder', 'head')
    for name, value in FIXTURE_POOLS.items()
]


def read_fixture(name: str) -> dict:
    """One xz-compressed fixture file, e.g. ``'2d_state_dict'``."""
    with open(osp.join(FIXTURES, f'{name}.pth.xz'), 'rb') as f:
        return torch.load(io.BytesIO(lzma.decompress(f.read())))


def unpack(packed: dict) -> Dict[str, Tensor]:
    """A dict of tensors the fixtures store as one flat buffer per dtype."""
    offsets = dict.fromkeys(set(packed['dtypes']), 0)
    out = {}
    for key, shape, dtype in zip(packed['keys'], packed['shapes'],
                                 packed['dtypes']):
        size = torch.Size(shape).numel()
        start = offsets[dtype]
        out[key] = packed[dtype][start:start + size].view(shape)
        offsets[dtype] += size
    return out


def upstream_state_dict(case: str) -> Tuple[Dict[str, Tensor], dict]:
    """Upstream's network state dict and hyper-parameters of a case
    (``'2d'``, ``'3d_w444'`` or ``'3d_w662'``)."""
    stored = read_fixture(f'{case}_state_dict')
    return unpack(stored), stored['hyper_parameters']


def load_upstream_fixture(
        name: str) -> Tuple[Dict[str, Tensor], Tensor, Tensor, dict]:
    """An upstream PUNet reference in mmvlsm's terms.

    Args:
        name (str): ``'<case>_<H>x<W>x<D>'``: ``'2d_64x64x1'``,
            ``'2d_100x76x1'``, ``'2d_96x80x1'``, ``'3d_w444_32x32x8'`` or
            ``'3d_w662_48x40x4'``.

    Returns:
        tuple: ``(state_dict, inputs, classes, expected)``: mmvlsm's
        student weights (``backbone``/``decoder``/``head``; 2D kernels for
        2D cases), the inputs (B, 1, H, W) (2D) or (B, 1, H, W, D), the
        active foreground class per sample (B, 1), and a dict of the
        expected fp32 outputs, 2D cases without the depth axis:
        ``eval_logits`` (B, 2, H, W[, D]) and ``eval_embedded_latents``
        (B, C0, H/2, W/2[, D]) in eval mode; ``train_weighting`` R and
        ``train_logits`` of the train-mode forward; where stored,
        ``eval_levels`` (``'stem'``, ``'encoder.<i>'``, ``'decoder.<i>'``
        but the last, which is the embedding) and ``train_grads``, the
        gradients of ``(train_logits * R).sum()`` under mmvlsm's names.
    """
    case = name.rsplit('_', 1)[0]
    two_d = case == '2d'
    upstream, _ = upstream_state_dict(case)
    stored = read_fixture(name)

    def ours(weights: Dict[str, Tensor]) -> Dict[str, Tensor]:
        converted, _ = punet_to_mmvlsm(weights)
        return drop_depth_axis(converted) if two_d else converted

    def plane(t: Tensor) -> Tensor:
        return t[..., 0] if two_d else t

    expected = dict(
        eval_logits=plane(stored['eval_logits']),
        eval_embedded_latents=plane(stored['eval_embedded_latents']),
        train_weighting=plane(stored['train_weighting'].float()),
        train_logits=plane(stored['train_logits']))
    if 'eval_levels' in stored:
        expected['eval_levels'] = {
            key: plane(value)
            for key, value in unpack(stored['eval_levels']).items()
        }
    if 'train_grads' in stored:
        expected['train_grads'] = ours(unpack(stored['train_grads']))
    labels = stored['label_indices']
    classes = torch.stack([row[1:].nonzero()[0] + 1 for row in labels])
    return (ours(upstream), plane(stored['inputs'].float()), classes, expected)


def fixture_model() -> torch.nn.Module:
    """The tiny PUNet with the fixtures' architecture."""
    init_default_scope('mmvlsm')
    cfg = Config.fromfile(TINY_CONFIG)
    for part in ('backbone', 'decoder', 'head'):
        cfg.model[part].update(FIXTURE_POOLS)
    return MODELS.build(cfg.model)


def convert(src, dst, *options, expect_fail=False) -> str:
    return run_tool([
        sys.executable, CONVERTER,
        str(src),
        str(dst), '--config', TINY_CONFIG, '--cfg-options', *FIXTURE_OPTIONS,
        *options
    ],
                    expect_fail=expect_fail)


def lightning_checkpoint(path, hyper_parameters: dict) -> Dict[str, Tensor]:
    """The 2D fixture as upstream's Lightning module saves it, with a
    teacher that differs from the student; returns the teacher."""
    student, _ = upstream_state_dict('2d')
    teacher = {
        key: value + 1 if value.is_floating_point() else value
        for key, value in student.items()
    }
    state_dict = {f'{PUNET_STUDENT_PREFIX}{k}': v for k, v in student.items()}
    state_dict.update({
        f'{PUNET_TEACHER_PREFIX}{k}': v
        for k, v in teacher.items()
    })
    torch.save(
        dict(
            epoch=3,
            global_step=300,
            state_dict=state_dict,
            hyper_parameters=hyper_parameters), path)
    return teacher


def test_fixture_state_dict_converts_and_fills_the_model(tmp_path):
    src, dst = tmp_path / 'network.pth', tmp_path / 'converted.pth'
    upstream, _ = upstream_state_dict('2d')
    torch.save(upstream, src)
    log = convert(src, dst)
    assert 'dropped: 54 relative_distances buffers' in log
    converted = torch.load(dst, weights_only=True)['state_dict']
    own = fixture_model().state_dict()
    assert sorted(converted) == sorted(own)
    assert all(converted[k].shape == v.shape for k, v in own.items())
    student, _, _, _ = load_upstream_fixture('2d_64x64x1')
    for key, value in student.items():
        assert torch.equal(converted[key], value), key
        # Without a teacher in SRC, the EMA teacher starts as the student.
        if not key.startswith('head.'):
            assert torch.equal(converted[f'teacher.{key}'], value), key


def test_lightning_checkpoint_converts_student_and_teacher(tmp_path):
    src, dst = tmp_path / 'last.ckpt', tmp_path / 'converted.pth'
    _, hparams = upstream_state_dict('2d')
    teacher = lightning_checkpoint(src, hparams)
    log = convert(src, dst)
    assert "the teacher's 5 head prompts" in log
    converted = torch.load(dst, weights_only=True)['state_dict']
    expected, _ = punet_to_mmvlsm(teacher)
    expected = drop_depth_axis(expected)
    key = 'decoder.levels.3.pswin.biases.1.content_tables.0'
    assert torch.equal(converted[f'teacher.{key}'], expected[key])
    assert not torch.equal(converted[key], expected[key])

    # Without cpa_loss there is no EMA teacher: the teacher is dropped.
    log = convert(src, tmp_path / 'student.pth', 'model.cpa_loss=None')
    assert 'the config builds no EMA teacher' in log
    converted = torch.load(tmp_path / 'student.pth', weights_only=True)
    assert not any(k.startswith('teacher.') for k in converted['state_dict'])


def test_3d_checkpoint_converts_for_a_3d_model(tmp_path):
    """A 3D upstream checkpoint keeps its depth kernels and, converted,
    gives upstream's logits under upstream=True."""
    src, dst = tmp_path / 'last.ckpt', tmp_path / 'converted.pth'
    student, hparams = upstream_state_dict('3d_w662')
    torch.save(
        dict(
            state_dict={
                f'{PUNET_STUDENT_PREFIX}{k}': v
                for k, v in student.items()
            },
            hyper_parameters=hparams), src)
    config = osp.join(
        REPO, 'configs', 'punet',
        'punet-tiny-3d-meta-self_1xb2-60it_toy-organs-32x32x8.py')
    window = [f'model.{part}.window=6,6,2' for part in ('backbone', 'decoder')]
    depth = [f'model.{part}.patch_depth=4' for part in ('backbone', 'decoder')]
    run_tool([
        sys.executable, CONVERTER,
        str(src),
        str(dst), '--config', config, '--cfg-options', *FIXTURE_OPTIONS,
        *window, *depth
    ])
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert converted['backbone.stem.conv1.weight'].shape == (8, 1, 3, 3, 3)
    state, inputs, classes, expected = load_upstream_fixture('3d_w662_48x40x4')
    model = upstream_exact_punet('3d_w662')
    model.load_state_dict({
        k: v
        for k, v in converted.items() if not k.startswith('teacher.')
    })
    with torch.no_grad():
        logits = model.eval().segment(inputs, classes)
    torch.testing.assert_close(
        logits, expected['eval_logits'], rtol=0, atol=1e-5)


def test_disagreeing_hyper_parameters_are_named(tmp_path):
    src, dst = tmp_path / 'last.ckpt', tmp_path / 'converted.pth'
    _, hparams = upstream_state_dict('2d')
    lightning_checkpoint(
        src, dict(hparams, attention_heads=4, tokens_per_instruction=16))
    log = convert(src, dst, expect_fail=True)
    assert 'heads: upstream 4, mmvlsm 2' in log
    assert 'num_tokens: upstream 16, mmvlsm 4' in log
    assert not dst.exists()

    lightning_checkpoint(src, dict(hparams, architecture='unet'))
    log = convert(src, dst, expect_fail=True)
    assert 'upstream\'s "unet" model, not PUNet' in log
    assert not dst.exists()


def test_other_checkpoints_are_refused_by_name(tmp_path):
    dst = tmp_path / 'converted.pth'
    cris = tmp_path / 'cris.pth'
    torch.save({'backbone.visual.conv1.weight': torch.zeros(1)}, cris)
    log = convert(cris, dst, expect_fail=True)
    assert 'backbone.visual.conv1.weight' in log and 'not weights' in log
    partial = tmp_path / 'partial.pth'
    upstream, _ = upstream_state_dict('2d')
    del upstream['sia_up_blocks.2.sia.attention_scores.1.weights_content_w']
    torch.save(upstream, partial)
    log = convert(partial, dst, expect_fail=True)
    assert 'decoder.levels.2.pswin.biases.1.content_weights.1' in log
    volume = tmp_path / 'volume.pth'
    torch.save(upstream_state_dict('3d_w444')[0], volume)
    log = convert(volume, dst, expect_fail=True)
    assert 'span depth' in log and 'backbone.stem.conv1.weight' in log
    assert not dst.exists()


def test_src_is_never_overwritten(tmp_path, capsys):
    src = tmp_path / 'network.pth'
    torch.save(upstream_state_dict('2d')[0], src)
    os.symlink(src, tmp_path / 'link.pth')
    main = load_tool(CONVERTER).main
    for dst in (f'{tmp_path}/./network.pth', tmp_path / 'link.pth'):
        message = refuses_to_replace_input(main,
                                           [src, dst, '--config', TINY_CONFIG],
                                           src, capsys)
        assert f'(DST) to {dst}: it would replace the input {src}' in message


# Each fixture case as mmvlsm's PUNet: window and (3D) patch depth.
FIXTURE_NETWORKS = {
    '2d': dict(window=(4, 4)),
    '3d_w444': dict(window=(4, 4, 4), patch_depth=8),
    '3d_w662': dict(window=(6, 6, 2), patch_depth=4),
}


def upstream_exact_punet(case: str) -> torch.nn.Module:
    """mmvlsm's PUNet with ``upstream=True`` in a fixture's architecture."""
    init_default_scope('mmvlsm')
    pswin = dict(
        channels=(8, 16, 16, 16, 16),
        heads=2,
        **FIXTURE_POOLS,
        **FIXTURE_NETWORKS[case])
    return MODELS.build(
        dict(
            type='PUNet',
            upstream=True,
            backbone=dict(type='PUNetEncoder', **pswin),
            decoder=dict(type='PUNetDecoder', **pswin),
            head=dict(
                type='SimilarityAggregationHead', channels=8,
                **FIXTURE_POOLS)))


@pytest.mark.parametrize('name', [
    '2d_64x64x1', '2d_100x76x1', '2d_96x80x1', '3d_w444_32x32x8',
    '3d_w662_48x40x4'
])
def test_upstream_mode_reproduces_upstream_outputs(name):
    """Converted upstream weights under ``upstream=True`` give upstream's
    logits, embeddings, per-level outputs and gradients (fp32)."""
    state, inputs, classes, expected = load_upstream_fixture(name)
    model = upstream_exact_punet(name.rsplit('_', 1)[0])
    model.load_state_dict(state, strict=True)
    model.eval()
    levels = {}
    hooks = [
        model.backbone.stem.register_forward_hook(
            lambda m, i, o: levels.__setitem__('stem', o))
    ]
    for prefix, part in (('encoder', model.backbone), ('decoder',
                                                       model.decoder)):
        for i, level in enumerate(part.levels):
            hooks.append(
                level.register_forward_hook(
                    lambda m, a, o, key=f'{prefix}.{i}': levels.__setitem__(
                        key, o)))
    with torch.no_grad():
        embedding = model.embed(inputs, classes)
        logits = model.segment(inputs, classes)
    for hook in hooks:
        hook.remove()
    tolerance = dict(rtol=0, atol=1e-5)
    torch.testing.assert_close(logits, expected['eval_logits'], **tolerance)
    torch.testing.assert_close(embedding, expected['eval_embedded_latents'],
                               **tolerance)
    for key, value in expected.get('eval_levels', {}).items():
        torch.testing.assert_close(levels[key], value, **tolerance, msg=key)

    model.train()
    logits = model.segment(inputs, classes)
    torch.testing.assert_close(logits, expected['train_logits'], **tolerance)
    (logits * expected['train_weighting']).sum().backward()
    grads = expected.get('train_grads')
    if grads is None:
        return
    params = dict(model.named_parameters())
    # Backward sums over every voxel in another order than upstream's, so
    # gradients agree to fp32 accumulation error relative to their scale
    # (up to 1e3 here; biases before a batch norm get about 1e-6 of pure
    # rounding noise).
    scale = max(grad.abs().max().item() for grad in grads.values())
    for key, grad in grads.items():
        # Upstream's unused prompts get zero gradients, mmvlsm's none.
        got = params[key].grad
        if got is None:
            assert not grad.any(), key
            continue
        torch.testing.assert_close(
            got, grad, rtol=1e-4, atol=2e-5 * scale, msg=lambda m: key + m)
    # Every trained parameter of mmvlsm has upstream's gradient.
    assert {k for k, p in params.items() if p.grad is not None} <= set(grads)


def test_each_upstream_behaviour_changes_the_output():
    """Setting any one behaviour back to mmvlsm's default moves the logits
    away from upstream's (so none is a no-op), and all of them together
    give the corrected model."""
    state, inputs, classes, expected = load_upstream_fixture('2d_100x76x1')
    options = dict(
        kv_from_q=False,
        window_layout='local',
        mask_mode='additive',
        relabel_padded_content=False,
        padding='symmetric')
    for name, value in options.items():
        model = upstream_exact_punet('2d')
        for part in (model.backbone, model.decoder):
            for level in part.levels:
                setattr(level.pswin, name, value)
                if name == 'kv_from_q':
                    for attention in level.pswin.attentions:
                        attention.kv_from_q = value
        model.load_state_dict(state)
        with torch.no_grad():
            logits = model.eval().segment(inputs, classes)
        change = (logits - expected['eval_logits']).abs().max().item()
        assert change > 1e-3, name
