# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
from unittest import mock

import pytest
import torch
from huggingface_hub import constants
from mmpretrain.models.backbones import VisionTransformer
from safetensors.torch import load_file
from transformers import Dinov2Model

from mmvlsm.models.backbones import PromptedViT
from mmvlsm.models.utils import (hf_dinov2_to_mmpretrain, hf_vit_arch,
                                 hf_vit_checkpoints, hf_vit_to_mmpretrain,
                                 load_hf_vit_state_dict, load_weights_exactly)
from mmvlsm.testing import (add_to_hub_cache, save_tiny_hf_dinov2,
                            save_tiny_hf_vit, save_tiny_hf_vit_mae)

# name -> (fmt, builder, config overrides)
FAMILIES = {
    'vit': ('hf_vit', save_tiny_hf_vit, {}),
    'vit_mae': ('hf_vit_mae', save_tiny_hf_vit_mae, {}),
    'dinov2': ('hf_dinov2', save_tiny_hf_dinov2, {}),
    'dinov2_swiglu':
    ('hf_dinov2', save_tiny_hf_dinov2, dict(use_swiglu_ffn=True)),
}


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
    """name -> (fmt, directory, the transformers model saved there)."""
    models = {}
    for name, (fmt, build, config) in FAMILIES.items():
        directory = str(tmp_path_factory.mktemp(name))
        models[name] = (fmt, directory, build(directory, **config))
    return models


def _mmpretrain_vit(directory, **kwargs):
    arch = hf_vit_arch(directory)
    arch.update(kwargs)
    vit = VisionTransformer(out_type='raw', **arch)
    vit.eval()
    return vit


def _hf_tokens(fmt, model, x):
    """transformers' final-normed tokens (B, 1 + N, C) in patch order."""
    if fmt != 'hf_vit_mae':
        return model(x).last_hidden_state
    # MAE shuffles the patches by random noise and keeps the first
    # (1 - mask_ratio): with none masked, ids_restore puts them back.
    model.config.mask_ratio = 0.0
    noise = torch.rand(x.shape[0],
                       model.vit.embeddings.patch_embeddings.num_patches)
    out = model.vit(x, noise=noise)
    tokens = out.last_hidden_state
    patches = torch.gather(
        tokens[:, 1:], 1,
        out.ids_restore[..., None].expand(-1, -1, tokens.shape[-1]))
    assert not torch.allclose(patches, tokens[:, 1:])  # it did shuffle
    return torch.cat([tokens[:, :1], patches], dim=1)


@pytest.mark.parametrize('name', list(FAMILIES))
@torch.no_grad()
def test_features_match_transformers(saved, name):
    """All tokens through mmpretrain's ViT, and the class token through
    PromptedViT without prompts, as transformers computes them."""
    fmt, directory, model = saved[name]
    state_dict = load_hf_vit_state_dict(directory, fmt)
    assert all(value.dtype == torch.float32 for value in state_dict.values())
    vit = _mmpretrain_vit(directory)
    vit.load_state_dict(state_dict, strict=True)
    arch = hf_vit_arch(directory)
    x = torch.randn(2, 3, arch['img_size'], arch['img_size'])
    expected = _hf_tokens(fmt, model, x)
    torch.testing.assert_close(vit(x)[0], expected, atol=1e-5, rtol=0)

    prompted = PromptedViT(prompt_length=0, **arch).eval()
    load_weights_exactly(
        prompted,
        state_dict,
        directory,
        allow_missing=('prompt', 'prompt_initialized'))
    torch.testing.assert_close(
        prompted(x)[0], expected[:, 0], atol=1e-5, rtol=0)


def test_arch_from_config(saved):
    arch = hf_vit_arch(saved['vit'][2].config)
    assert arch == hf_vit_arch(osp.join(saved['vit'][1], 'config.json'))
    assert arch['norm_cfg'] == dict(type='LN', eps=1e-12)
    assert arch['arch'] == dict(
        embed_dims=32, num_layers=2, num_heads=4, feedforward_channels=64)
    dinov2 = hf_vit_arch(saved['dinov2'][1])
    assert dinov2['norm_cfg']['eps'] == 1e-6
    assert (dinov2['patch_size'], dinov2['img_size']) == (14, 56)
    assert dinov2['arch']['feedforward_channels'] == 128  # 4 x 32
    assert dinov2['layer_scale_init_value'] == 1.0
    assert 'layer_cfgs' not in dinov2
    assert hf_vit_arch(saved['dinov2_swiglu'][1])['layer_cfgs'] == dict(
        ffn_type='swiglu_fused')
    # Defaults come from transformers' config class: ViT-B/16 at 224 px.
    base = hf_vit_arch(dict(model_type='vit'))
    assert base['arch']['feedforward_channels'] == 3072
    assert (base['img_size'], base['patch_size']) == (224, 16)
    with pytest.raises(ValueError, match='Unsupported model_type "swin"'):
        hf_vit_arch(dict(model_type='swin'))
    with pytest.raises(ValueError, match='activation "gelu_new"'):
        hf_vit_arch(dict(model_type='vit', hidden_act='gelu_new'))


def test_mae_position_embedding_is_stored(saved):
    """ViTMAE's fixed sin-cos table is a frozen parameter, so it is in the
    checkpoint (beside the decoder's) and is copied as stored."""
    _, directory, model = saved['vit_mae']
    stored = load_file(osp.join(directory, 'model.safetensors'))
    assert 'decoder.decoder_pos_embed' in stored
    assert not model.vit.embeddings.position_embeddings.requires_grad
    state_dict = load_hf_vit_state_dict(directory, 'hf_vit_mae')
    assert torch.equal(state_dict['pos_embed'],
                       stored['vit.embeddings.position_embeddings'])
    assert not any('decoder' in key for key in state_dict)


@torch.no_grad()
def test_dinov2_position_embedding_is_resized_as_transformers(saved):
    """The converter keeps DINOv2's grid (4 x 4 here, 37 x 37 for the
    518-px checkpoints); mmpretrain resizes it when loading (bicubic, to a
    size) as transformers' Dinov2 interpolates it for a smaller input."""
    _, directory, model = saved['dinov2']
    state_dict = load_hf_vit_state_dict(directory, 'hf_dinov2')
    stored = load_file(osp.join(directory, 'model.safetensors'))
    assert torch.equal(state_dict['pos_embed'],
                       stored['embeddings.position_embeddings'])
    vit = _mmpretrain_vit(directory, img_size=42)  # a 3 x 3 grid
    vit.load_state_dict(state_dict, strict=True)
    x = torch.randn(1, 3, 42, 42)
    torch.testing.assert_close(
        vit(x)[0], model(x).last_hidden_state, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    'weights, max_shard_size', [('safetensors', '20KB'), ('bin', '50GB')],
    ids=['sharded', 'pytorch_model.bin'])
def test_sharded_and_bin_checkpoints(tmp_path, weights, max_shard_size):
    reference = str(tmp_path / 'reference')
    save_tiny_hf_vit(reference)
    other = str(tmp_path / weights)
    save_tiny_hf_vit(other, weights=weights, max_shard_size=max_shard_size)
    if weights == 'safetensors':
        assert osp.isfile(osp.join(other, 'model.safetensors.index.json'))
        assert not osp.isfile(osp.join(other, 'model.safetensors'))
    expected = load_hf_vit_state_dict(reference, 'hf_vit')
    state_dict = load_hf_vit_state_dict(other, 'hf_vit')
    assert state_dict.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(state_dict[key], value), key


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty HF hub cache, read with HF_HUB_OFFLINE=1."""
    cache = str(tmp_path / 'hub')
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', cache)
    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', True)
    return cache


def test_hub_name_through_the_offline_cache(saved, offline_cache):
    _, directory, _ = saved['dinov2']
    snapshot = add_to_hub_cache(offline_cache, 'tiny-org/tiny-dinov2',
                                directory)
    assert snapshot.startswith(
        osp.join(offline_cache, 'models--tiny-org--tiny-dinov2', 'snapshots'))
    state_dict = load_hf_vit_state_dict('tiny-org/tiny-dinov2', 'hf_dinov2')
    expected = load_hf_vit_state_dict(directory, 'hf_dinov2')
    for key, value in expected.items():
        assert torch.equal(state_dict[key], value), key
    assert hf_vit_arch('tiny-org/tiny-dinov2') == hf_vit_arch(directory)
    # transformers resolves the same cached snapshot.
    model = Dinov2Model.from_pretrained('tiny-org/tiny-dinov2')
    assert torch.equal(model.embeddings.cls_token, expected['cls_token'])


def test_missing_hub_name_offline(offline_cache):
    with pytest.raises(FileNotFoundError) as info:
        load_hf_vit_state_dict('no-org/no-vit', 'hf_vit')
    message = str(info.value)
    for part in (offline_cache, 'no-org/no-vit', 'HF_HUB_OFFLINE=1',
                 'hf download no-org/no-vit', 'save_pretrained'):
        assert part in message


def test_unreadable_files(saved, tmp_path):
    directory = tmp_path / 'vit'
    save_tiny_hf_vit(str(directory))
    weights = directory / 'model.safetensors'
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(OSError, match=f'"{weights}".*corrupt'):
        load_hf_vit_state_dict(str(directory), 'hf_vit')
    weights.unlink()
    with pytest.raises(OSError, match='model.safetensors') as info:
        load_hf_vit_state_dict(str(directory), 'hf_vit')
    assert f'local directory "{directory}"' in str(info.value)
    with pytest.raises(ValueError, match='"vit" model, not the "dinov2"'):
        load_hf_vit_state_dict(saved['vit'][1], 'hf_dinov2')
    with pytest.raises(ValueError, match='Unknown Hugging Face ViT format'):
        load_hf_vit_state_dict(saved['vit'][1], 'timm')


def _stored(saved, name):
    return load_file(osp.join(saved[name][1], 'model.safetensors'))


def test_missing_and_unknown_weights(saved):
    state_dict = _stored(saved, 'vit')
    for key in ('encoder.layer.1.attention.attention.key.weight',
                'encoder.layer.1.layernorm_after.bias', 'layernorm.weight'):
        broken = dict(state_dict)
        del broken[key]
        with pytest.raises(ValueError, match=f'Missing ViT .*{key}'):
            hf_vit_to_mmpretrain(broken)
    unknown = {
        **state_dict, 'encoder.layer.0.adapter.weight': torch.zeros(1),
        'head.weight': torch.zeros(1)
    }
    with pytest.raises(ValueError) as info:
        hf_vit_to_mmpretrain(unknown)
    assert "['encoder.layer.0.adapter.weight', 'head.weight']" in str(
        info.value)

    dinov2 = _stored(saved, 'dinov2')
    del dinov2['encoder.layer.1.layer_scale2.lambda1']
    with pytest.raises(
            ValueError, match='encoder.layer.1.layer_scale2.lambda1'):
        hf_dinov2_to_mmpretrain(dinov2)
    # A ViT checkpoint is not a DINOv2 one.
    with pytest.raises(ValueError, match='Unknown DINOv2 weights'):
        hf_dinov2_to_mmpretrain(state_dict)


def test_unused_weights_are_dropped_and_logged(saved):
    # A task model: the encoder under "vit.", the head beside it.
    state_dict = {f'vit.{k}': v for k, v in _stored(saved, 'vit').items()}
    state_dict['classifier.weight'] = torch.zeros(3, 32)
    logger = mock.Mock()
    with mock.patch.object(
            hf_vit_checkpoints.MMLogger,
            'get_current_instance',
            return_value=logger):
        converted = hf_vit_to_mmpretrain(state_dict)
    assert not any(
        key.startswith(('pooler', 'classifier', 'vit')) for key in converted)
    message = logger.info.call_args[0][0]
    assert 'unused=classifier.* (1), pooler.* (2)' in message
