# Copyright (c) OpenMMLab. All rights reserved.
"""ResNet and Swin (CTransPath) encoders load torchvision, timm, mmpretrain
and CTransPath weights exactly: tiny random models are saved in each
layout and their features compared with the source library's model."""
import os.path as osp
import re

import pytest
import timm
import torch
import torch.nn as nn
import torchvision
from mmengine.config import Config
from mmengine.registry import DefaultScope
from safetensors.torch import save_file
from timm.models.swin_transformer import (SwinTransformer,
                                          checkpoint_filter_fn)

from mmvlsm.models.backbones import ResNetEncoder, SwinEncoder
from mmvlsm.models.utils import unfold_merge_order
from mmvlsm.registry.classification import MODELS

CONFIGS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
    'configs', 'cite')

TINY_SWIN = dict(
    embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), window_size=2)
# 64 px: grids 16, 8, 4 and 2, so that every stage but the last shifts.
SWIN_SIZE = 64


def randomize_norm_statistics(model):
    """Give every BN non-trivial running statistics, as a trained model."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            size = module.running_mean.shape
            module.running_mean.copy_(torch.randn(size, generator=generator))
            module.running_var.copy_(
                torch.rand(size, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(size, generator=generator))
    return model.eval()


def images(size):
    return torch.randn(
        2, 3, size, size, generator=torch.Generator().manual_seed(1))


class TimmConvStem(nn.Module):
    """CTransPath's ConvStem (its names), as timm's Swin builds its patch
    embedding, returning NHWC as timm 0.9+ expects."""

    def __init__(self, embed_dim, norm_layer, **kwargs):
        super().__init__()
        self.grid_size = (kwargs['img_size'] // 4, kwargs['img_size'] // 4)
        c8, c4 = embed_dim // 8, embed_dim // 4
        self.proj = nn.Sequential(
            nn.Conv2d(3, c8, 3, 2, 1, bias=False), nn.BatchNorm2d(c8),
            nn.ReLU(), nn.Conv2d(c8, c4, 3, 2, 1, bias=False),
            nn.BatchNorm2d(c4), nn.ReLU(), nn.Conv2d(c4, embed_dim, 1))
        self.norm = norm_layer(embed_dim)

    def forward(self, x):
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


def timm_swin(num_classes=0, conv_stem=True):
    kwargs = dict(embed_layer=TimmConvStem) if conv_stem else {}
    torch.manual_seed(0)
    model = SwinTransformer(
        img_size=SWIN_SIZE, num_classes=num_classes, **TINY_SWIN, **kwargs)
    return randomize_norm_statistics(model)


def ctranspath_layout(model):
    """``model``'s weights as timm 0.5 (CTransPath) saved them: each
    stage's patch merging at its end, with the window buffers."""
    state = {}
    for key, value in model.state_dict().items():
        merge = re.fullmatch(r'layers\.(\d+)\.downsample\.(.+)', key)
        if merge:
            key = f'layers.{int(merge[1]) - 1}.downsample.{merge[2]}'
        state[key] = value
    state.update({
        key: value
        for key, value in model.named_buffers()
        if key.endswith(('relative_position_index', 'attn_mask'))
    })
    return state


def swin_encoder(path, fmt='ctranspath', conv_stem=True):
    return SwinEncoder(
        arch=dict(
            embed_dims=TINY_SWIN['embed_dim'],
            depths=list(TINY_SWIN['depths']),
            num_heads=list(TINY_SWIN['num_heads'])),
        conv_stem=conv_stem,
        img_size=SWIN_SIZE,
        window_size=TINY_SWIN['window_size'],
        drop_path_rate=0.,
        pretrained=path,
        pretrained_format=fmt).eval()


@pytest.fixture(scope='module')
def torchvision_resnet50(tmp_path_factory):
    model = randomize_norm_statistics(torchvision.models.resnet50())
    path = tmp_path_factory.mktemp('resnet') / 'resnet50.pth'
    torch.save(model.state_dict(), path)
    return model, str(path)


@torch.no_grad()
def test_resnet50_from_torchvision(torchvision_resnet50):
    source, path = torchvision_resnet50
    encoder = ResNetEncoder(pretrained=path).eval()
    assert encoder.feature_channels == 2048
    x = images(64)
    expected = torch.flatten(
        nn.Sequential(*list(source.children())[:-1])(x), 1)
    (feature, ) = encoder(x)
    assert feature.shape == (2, 2048)
    torch.testing.assert_close(feature, expected, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_resnet18_from_timm_hub_folder_and_mmpretrain(tmp_path):
    source = randomize_norm_statistics(timm.create_model('resnet18'))
    # A Hub snapshot of a timm model: config.json and model.safetensors.
    (tmp_path / 'timm').mkdir()
    save_file(source.state_dict(), tmp_path / 'timm' / 'model.safetensors')
    x = images(64)
    expected = source.forward_head(source.forward_features(x), pre_logits=True)
    timm_encoder = ResNetEncoder(
        18, pretrained=str(tmp_path / 'timm'), pretrained_format='timm')
    torch.testing.assert_close(
        timm_encoder.eval()(x)[0], expected, atol=1e-5, rtol=1e-5)
    assert timm_encoder.feature_channels == 512

    # An mmpretrain classifier checkpoint of the same weights.
    state = {f'backbone.{k}': v for k, v in timm_encoder.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(10, 512)
    torch.save(
        dict(meta=dict(epoch=1), state_dict=state),
        tmp_path / 'mmpretrain.pth')
    encoder = ResNetEncoder(
        18,
        pretrained=str(tmp_path / 'mmpretrain.pth'),
        pretrained_format='mmpretrain')
    torch.testing.assert_close(
        encoder.eval()(x)[0], expected, atol=1e-5, rtol=1e-5)


def test_resnet_load_errors_name_the_key_and_file(tmp_path):
    source = torchvision.models.resnet18()
    cases = {
        'unexpected':
        dict(source.state_dict(), **{'extra.weight': torch.ones(1)}),
        'missing': {
            k: v
            for k, v in source.state_dict().items() if k != 'layer4.1.bn2.bias'
        },
        'shape':
        dict(source.state_dict(), **{'conv1.weight': torch.ones(64, 3, 3, 3)}),
    }
    expected = {
        'unexpected': r"unexpected \['extra.weight'\]",
        'missing': r"missing \['layer4.1.bn2.bias'\]",
        'shape': r'conv1.weight: \(64, 3, 3, 3\) in',
    }
    for name, state in cases.items():
        path = tmp_path / f'{name}.pth'
        torch.save(state, path)
        with pytest.raises(ValueError, match=expected[name]) as error:
            ResNetEncoder(18, pretrained=str(path))
        assert str(path) in str(error.value)
    with pytest.raises(FileNotFoundError, match='resnet50-11ad3fa6.pth'):
        ResNetEncoder(pretrained=str(tmp_path / 'absent.pth'))
    with pytest.raises(ValueError, match='Unknown pretrained_format'):
        ResNetEncoder(18, pretrained=None, pretrained_format='tf')
    with pytest.raises(TypeError, match='pretrained'):
        ResNetEncoder(18)  # random weights only when asked for


def test_frozen_encoder_stays_in_eval_mode():
    frozen = ResNetEncoder(18, pretrained=None).train()
    assert not any(p.requires_grad for p in frozen.parameters())
    assert not any(m.training for m in frozen.modules())
    tuned = ResNetEncoder(18, pretrained=None, frozen=False).train()
    assert all(p.requires_grad for p in tuned.parameters())
    assert tuned.bn1.training


@torch.no_grad()
def test_ctranspath_swin_matches_timm(tmp_path):
    source = timm_swin()
    state = ctranspath_layout(source)
    # The fixture is what timm itself reads as an original Swin checkpoint.
    timm_swin().load_state_dict(checkpoint_filter_fn(state, source))
    path = tmp_path / 'ctranspath.pth'
    torch.save(dict(model=state), path)

    encoder = swin_encoder(str(path))
    assert encoder.feature_channels == 128
    x = images(SWIN_SIZE)
    (feature, ) = encoder(x)
    assert feature.shape == (2, 128)
    torch.testing.assert_close(feature, source(x), atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_timm_swin_with_head_and_patch_embed(tmp_path):
    # timm 0.9+ layout (a Hub model): no window buffers, merging at the
    # start of the next stage, a classifier to drop; mmpretrain's PatchEmbed.
    source = timm_swin(num_classes=5, conv_stem=False)
    save_file(source.state_dict(), tmp_path / 'model.safetensors')
    encoder = swin_encoder(str(tmp_path), fmt='timm', conv_stem=False)
    x = images(SWIN_SIZE)
    expected = source.forward_head(source.forward_features(x), pre_logits=True)
    torch.testing.assert_close(encoder(x)[0], expected, atol=1e-5, rtol=1e-5)


def test_swin_load_errors(tmp_path):
    state = ctranspath_layout(timm_swin())
    missing = {
        k: v
        for k, v in state.items() if k != 'layers.2.downsample.norm.weight'
    }
    torch.save(dict(model=missing), tmp_path / 'missing.pth')
    with pytest.raises(
            ValueError,
            match=r"missing \['stages.2.downsample.norm.weight'\]"):
        swin_encoder(str(tmp_path / 'missing.pth'))
    # timm 0.9+ weights read as CTransPath's layout shift every merging.
    save_file(timm_swin().state_dict(), tmp_path / 'model.safetensors')
    with pytest.raises(ValueError, match='shape mismatches'):
        swin_encoder(str(tmp_path))


def test_unfold_merge_order_matches_nn_unfold():
    # timm merges 2x2 neighbours as [x(0,0), x(1,0), x(0,1), x(1,1)] channel
    # blocks; mmpretrain unfolds them channel by channel.
    x = torch.randn(1, 3, 2, 2)
    timm_order = torch.cat(
        [x[..., 0, 0], x[..., 1, 0], x[..., 0, 1], x[..., 1, 1]], dim=-1)
    unfolded = nn.Unfold(2, stride=2)(x)[..., 0]
    weight = torch.randn(5, 12)
    torch.testing.assert_close(timm_order @ weight.T,
                               unfolded @ unfold_merge_order(weight).T)


def build_encoder_and_neck(config, tmp_path):
    """The backbone (without weights) and neck of a CITE config, built by
    its CITEClassifier with random class-name embeddings."""
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    cfg.model.backbone.pretrained = None
    width = 384 if 'minilm' in config else 1024
    texts = str(tmp_path / 'texts.pth')
    torch.save(torch.randn(3, width), texts)
    cfg.model.head.update(text_encoder=None, text_embeddings_file=texts)
    with DefaultScope.overwrite_default_scope('mmvlsm_cls'):
        model = MODELS.build(cfg.model)
    return model.backbone, model.neck


def count(modules):
    params = [p for m in modules for p in m.parameters()]
    return (sum(p.numel() for p in params
                if p.requires_grad), sum(p.numel() for p in params))


@pytest.mark.parametrize('config, trainable, total', [
    ('linear-probe-text_resnet50', 2_098_176, 25_606_208),
    ('finetune-text_resnet50', 25_606_208, 25_606_208),
    ('linear-probe-text_ctranspath', 787_456, 28_307_494),
    ('finetune-text_ctranspath', 28_307_494, 28_307_494),
])
def test_full_size_parameter_counts(config, trainable, total, tmp_path):
    # The text head adds no parameters (frozen class-name embeddings, fixed
    # temperature): these are the counts of the whole classifier.
    encoder, neck = build_encoder_and_neck(
        f'{config}-biolinkbert-l_1xb128-1000it_patchgastric-cls3.py', tmp_path)
    counts = count([encoder, neck])
    print(f'{config}: trainable {counts[0]:,} of {counts[1]:,}')
    assert counts == (trainable, total)
    assert neck.in_channels == encoder.feature_channels


def test_ctranspath_size_matches_timm(tmp_path):
    timm_model = SwinTransformer(
        num_classes=0,
        embed_layer=TimmConvStem,
        embed_dim=96,
        depths=(2, 2, 6, 2),
        num_heads=(3, 6, 12, 24))
    encoder, _ = build_encoder_and_neck(
        'linear-probe-text_ctranspath-biolinkbert-l_1xb128-1000it_'
        'patchgastric-cls3.py', tmp_path)
    assert count([encoder])[1] == count([timm_model])[1] == 27_520_038


@pytest.mark.parametrize('config', [
    'cite-tiny-resnet-minilm_1xb24-150it_toy-patches-32x32.py',
    'cite-tiny-ctranspath-minilm_1xb24-150it_toy-patches-32x32.py'
])
def test_tiny_configs_train_a_step(config, tmp_path):
    encoder, neck = build_encoder_and_neck(osp.join('tiny', config), tmp_path)
    loss = neck(encoder(images(32)))[0].square().mean()
    loss.backward()
    assert all(p.grad is not None for p in encoder.parameters())
