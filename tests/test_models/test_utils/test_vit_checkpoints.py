# Copyright (c) OpenMMLab. All rights reserved.
"""Reading ViT checkpoints and renaming them to mmpretrain's names."""
from unittest import mock

import pytest
import torch
from mmengine.logging import MMLogger
from safetensors.torch import save_file
from transformers import Dinov2Config
from transformers.models.dinov2.modeling_dinov2 import Dinov2Embeddings

from mmvlsm.models.utils import (VIT_FORMATS, dino_vit_to_mmpretrain,
                                 fit_pos_embed, load_vit_state_dict,
                                 read_vit_checkpoint, timm_vit_to_mmpretrain)
from mmvlsm.testing import build_tiny_timm_vit, tiny_vit_checkpoint


@pytest.fixture(scope='module')
def timm_state():
    return build_tiny_timm_vit('dinov2').state_dict()


def test_formats():
    assert set(VIT_FORMATS) == {
        'clip', 'mmpretrain', 'timm', 'mae', 'dino', 'dinov2', 'hf_vit',
        'hf_vit_mae', 'hf_dinov2'
    }
    with pytest.raises(ValueError, match='Unknown ViT checkpoint format'):
        load_vit_state_dict('any.pth', 'deit')


def test_timm_names_to_mmpretrain(timm_state):
    converted = timm_vit_to_mmpretrain(timm_state)
    assert len(converted) == len(timm_state)
    torch.testing.assert_close(converted['layers.1.attn.gamma1.weight'],
                               timm_state['blocks.1.ls1.gamma'])
    torch.testing.assert_close(converted['layers.0.ffn.layers.0.0.weight'],
                               timm_state['blocks.0.mlp.fc1.weight'])
    assert {
        'patch_embed.projection.weight', 'ln1.weight',
        'layers.0.ffn.gamma2.weight'
    } <= set(converted)


def test_unused_keys_are_dropped_by_name(timm_state):
    logger = MMLogger.get_current_instance()
    with mock.patch.object(logger, 'info') as info:
        converted = timm_vit_to_mmpretrain(
            dict(timm_state, mask_token=torch.zeros(1, 32)), 'dinov2')
    assert 'mask_token' not in converted
    assert "['mask_token']" in info.call_args[0][0]
    # A DINOv2 mask token is no part of a timm checkpoint.
    with pytest.raises(ValueError, match=r"\['mask_token'\]"):
        timm_vit_to_mmpretrain(dict(timm_state, mask_token=torch.zeros(1)))


def test_unknown_keys_are_listed(timm_state, tmp_path):
    state = dict(timm_state, register_tokens=torch.zeros(1, 4, 32))
    state['blocks.0.attn.q_norm.weight'] = torch.ones(16)
    path = str(tmp_path / 'dinov2_vits14_reg4_pretrain.pth')
    torch.save(state, path)
    with pytest.raises(ValueError) as error:
        load_vit_state_dict(path, 'dinov2')
    message = str(error.value)
    assert path in message
    assert "'blocks.0.attn.q_norm.weight', 'register_tokens'" in message
    assert 'registers is not supported' in message


def test_dino_teacher_without_prefixes(timm_state):
    training = tiny_vit_checkpoint(build_tiny_timm_vit('dino'), 'dino')
    bare = build_tiny_timm_vit('dino').state_dict()
    converted = dino_vit_to_mmpretrain(training['teacher'])
    assert converted.keys() == timm_vit_to_mmpretrain(bare).keys()
    student = dino_vit_to_mmpretrain(training['student'])
    torch.testing.assert_close(student['ln1.weight'],
                               converted['ln1.weight'] + 1)


def test_read_unwraps_and_reads_safetensors(timm_state, tmp_path):
    half = {k: v.half() for k, v in timm_state.items()}
    for name, checkpoint in (('a.pth', dict(model=half)),
                             ('b.pth', dict(state_dict=half, meta={})),
                             ('c.pth', dict(teacher=half, epoch=3))):
        torch.save(checkpoint, tmp_path / name)
        read = read_vit_checkpoint(str(tmp_path / name))
        assert read.keys() == timm_state.keys()
        assert read['pos_embed'].dtype == torch.float32
    save_file(timm_state, str(tmp_path / 'model.safetensors'))
    read = read_vit_checkpoint(str(tmp_path / 'model.safetensors'))
    torch.testing.assert_close(read, timm_state)


def test_read_errors_name_the_file(tmp_path):
    missing = tmp_path / 'dinov2_vits14_pretrain.pth'
    with pytest.raises(FileNotFoundError) as error:
        read_vit_checkpoint(str(missing))
    assert str(missing) in str(error.value)
    assert 'dl.fbaipublicfiles.com/dinov2/dinov2_vits14/' in str(error.value)
    corrupt = tmp_path / 'mae_pretrain_vit_base.pth'
    corrupt.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='corrupt or partial download'):
        read_vit_checkpoint(str(corrupt))
    torch.save([1, 2], tmp_path / 'list.pth')
    with pytest.raises(ValueError, match='holds no state dict'):
        read_vit_checkpoint(str(tmp_path / 'list.pth'))


def test_pos_embed_is_resized_as_transformers_dinov2():
    # DINOv2's 37 x 37 grid (518 px) to 16 x 16 (224 px), as transformers'
    # Dinov2 interpolates for an input of another size.
    width = 8
    pos_embed = torch.randn(1, 1 + 37 * 37, width)
    state = fit_pos_embed(dict(pos_embed=pos_embed), (16, 16), 1, 'bicubic')
    embeddings = Dinov2Embeddings(
        Dinov2Config(hidden_size=width, image_size=518, patch_size=14))
    embeddings.position_embeddings.data.copy_(pos_embed)
    expected = embeddings.interpolate_pos_encoding(
        torch.zeros(1, 1 + 16 * 16, width), 224, 224)
    torch.testing.assert_close(state['pos_embed'], expected)
    # A grid that fits stays as it is.
    assert fit_pos_embed(state, (16, 16), 1,
                         'bicubic')['pos_embed'] is state['pos_embed']
