# Copyright (c) OpenMMLab. All rights reserved.
"""PromptedViT from timm, MAE, DINO, DINOv2 and mmpretrain checkpoints:
tiny random models saved in each real layout give timm's own features."""
import os.path as osp

import pytest
import torch
from mmpretrain.models.backbones import VisionTransformer as MMPretrainViT
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer

from mmvlsm.models.backbones import PromptedViT
from mmvlsm.testing import (TINY_PROMPTED_VITS, TINY_TIMM_VITS,
                            TINY_VIT_FILES, TINY_VIT_FORMATS, save_tiny_vit,
                            timm_vit_features)


@pytest.fixture(scope='module')
def tiny_vits(tmp_path_factory):
    """family -> (checkpoint path, source timm model)."""
    root = tmp_path_factory.mktemp('vits')
    paths = {
        family: str(root / osp.basename(name))
        for family, name in TINY_VIT_FILES.items()
    }
    return {
        family: (path, save_tiny_vit(path, family))
        for family, path in paths.items()
    }


def prompted(family, path, img_size=None, **kwargs):
    kwargs = dict(TINY_PROMPTED_VITS[family], **kwargs)
    if family == 'mae_finetuned':
        kwargs.update(final_norm=False, fc_norm=True)
    return PromptedViT(
        img_size=img_size or TINY_TIMM_VITS[family]['img_size'],
        pretrained=path,
        pretrained_format=TINY_VIT_FORMATS[family],
        **kwargs)


@pytest.mark.parametrize('family,feature', [
    ('timm', 'cls'),
    ('timm', 'mean'),
    ('mae', 'cls'),
    ('mae_finetuned', 'mean'),
    ('dino', 'cls'),
    ('dinov2', 'cls_mean'),
    ('dinov2', 'mean'),
])
def test_features_match_timm(tiny_vits, family, feature):
    path, source = tiny_vits[family]
    model = prompted(family, path, prompt_length=0, feature=feature).eval()
    size = TINY_TIMM_VITS[family]['img_size']
    images = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected = timm_vit_features(source, images, feature)
        torch.testing.assert_close(
            model(images)[0], expected, atol=1e-5, rtol=0)
    assert model.feature_channels == expected.shape[1]


def test_prompted_features_leave_the_prompt_out_of_the_mean(tiny_vits):
    path, source = tiny_vits['dinov2']
    model = prompted('dinov2', path, prompt_length=3, feature='cls_mean')
    model.init_weights()  # keeps the checkpoint's weights
    model.eval()
    images = torch.randn(2, 3, 48, 48)
    tokens = []
    model.layers[-1].register_forward_hook(
        lambda m, a, out: tokens.append(model.ln1(out)))
    with torch.no_grad():
        feature = model(images)[0]
    patches = tokens[0][:, 1 + 3:]
    assert patches.shape[1] == 36
    torch.testing.assert_close(feature[:, 32:], patches.mean(1))
    assert [n for n, p in model.named_parameters()
            if p.requires_grad] == ['prompt']
    torch.testing.assert_close(model.pos_embed, source.pos_embed)


def test_dinov2_position_embedding_is_resized(tiny_vits):
    # Saved for 48 px (6 x 6 patches), used at 32 px (4 x 4): the same
    # features as timm's model with its embedding resampled bicubically
    # (no antialiasing, as transformers and mmpretrain interpolate).
    path, source = tiny_vits['dinov2']
    model = prompted(
        'dinov2', path, img_size=32, prompt_length=0,
        feature='cls_mean').eval()
    state = source.state_dict()
    state['pos_embed'] = resample_abs_pos_embed(
        state['pos_embed'], (4, 4), (6, 6), antialias=False)
    small = VisionTransformer(
        **dict(TINY_TIMM_VITS['dinov2'], img_size=32),
        embed_dim=32,
        depth=2,
        num_heads=2).eval()
    small.load_state_dict(state)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            model(images)[0],
            timm_vit_features(small, images, 'cls_mean'),
            atol=1e-5,
            rtol=0)


def test_mmpretrain_classifier_checkpoint(tmp_path):
    vit = MMPretrainViT(**TINY_PROMPTED_VITS['timm'], img_size=32)
    vit.init_weights()
    vit.eval()
    state = {f'backbone.{k}': v for k, v in vit.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(3, 32)
    path = str(tmp_path / 'vit_tiny_8xb64_in1k.pth')
    torch.save(dict(state_dict=state, meta={}), path)
    model = PromptedViT(
        img_size=32,
        prompt_length=0,
        pretrained=path,
        pretrained_format='mmpretrain',
        **TINY_PROMPTED_VITS['timm']).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(images)[0], vit(images)[0])


def test_feature_channels_and_arguments():
    tiny = dict(TINY_PROMPTED_VITS['timm'], img_size=32)
    assert PromptedViT(**tiny).feature_channels == 32
    assert PromptedViT(feature='cls_mean', **tiny).feature_channels == 64
    assert PromptedViT(
        proj=True, proj_channels=16, **tiny).feature_channels == 16
    with pytest.raises(ValueError, match='Unknown feature'):
        PromptedViT(feature='pooler', **tiny)
    with pytest.raises(ValueError, match='needs feature="cls"'):
        PromptedViT(proj=True, feature='mean', **tiny)
    with pytest.raises(ValueError, match='final_norm=False'):
        PromptedViT(feature='mean', fc_norm=True, **tiny)


def test_named_errors(tiny_vits, tmp_path):
    path, source = tiny_vits['timm']
    state = dict(source.state_dict())
    # A key of no ViT part.
    torch.save(
        dict(state, **{'blocks.0.adapter.weight': torch.zeros(1)}),
        tmp_path / 'unknown.pth')
    with pytest.raises(ValueError, match=r"\['blocks.0.adapter.weight'\]"):
        prompted('timm', str(tmp_path / 'unknown.pth'))
    # A missing weight, named in the model's names.
    del state['norm.bias']
    torch.save(state, tmp_path / 'missing_key.pth')
    with pytest.raises(ValueError, match=r"missing \['ln1.bias'\]"):
        prompted('timm', str(tmp_path / 'missing_key.pth'))
    # A config of another width than the checkpoint.
    wide = dict(TINY_PROMPTED_VITS['timm']['arch'], embed_dims=64)
    with pytest.raises(ValueError, match='cls_token: \\(1, 1, 32\\)'):
        prompted('timm', path, arch=wide)
    # A checkpoint of a model with LayerScale into one without.
    with pytest.raises(ValueError, match='unexpected .*gamma1'):
        prompted('dinov2', tiny_vits['dinov2'][0], layer_scale_init_value=0.)
    # A corrupt and a missing file.
    (tmp_path / 'corrupt.pth').write_bytes(b'\0' * 16)
    with pytest.raises(ValueError, match='corrupt.pth'):
        prompted('dino', str(tmp_path / 'corrupt.pth'))
    with pytest.raises(FileNotFoundError, match='Put the checkpoint there'):
        prompted('mae', str(tmp_path / 'mae_pretrain_vit_large.pth'))
