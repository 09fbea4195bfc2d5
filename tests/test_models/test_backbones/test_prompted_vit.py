# Copyright (c) OpenMMLab. All rights reserved.
import open_clip
import pytest
import torch
from mmpretrain.models.backbones import VisionTransformer

from mmvlsm.models.backbones import PromptedViT
from mmvlsm.models.necks import ProjectionNeck
from mmvlsm.testing import save_tiny_openai_clip, save_tiny_openai_clip_vit

TINY = dict(
    arch=dict(
        embed_dims=32, num_layers=3, num_heads=2, feedforward_channels=64),
    img_size=32,
    patch_size=8,
    pre_norm=True)
NUM_PATCHES = 16


def layer_inputs(model, images):
    """Run ``model`` and return what each of its layers received."""
    seen = []
    hooks = [
        layer.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
        for layer in model.layers
    ]
    out = model(images)
    for hook in hooks:
        hook.remove()
    return out, seen


def plain_vit(model):
    """mmpretrain's ViT with ``model``'s weights."""
    vit = VisionTransformer(**TINY)
    state = {
        k: v
        for k, v in model.state_dict().items()
        if k not in ('prompt', 'prompt_initialized')
    }
    vit.load_state_dict(state)
    vit.eval()
    return vit


def test_cite_trainable_parameter_count():
    # CITE: CLIP ViT-B/16 with a 1-token shallow prompt and CLIP's
    # projection, all frozen but the prompt, then ProjectionNeck(512, 1024).
    backbone = PromptedViT(
        arch='base',
        img_size=224,
        patch_size=16,
        drop_rate=0.,
        layer_cfgs=dict(act_cfg=dict(type='QuickGELU')),
        pre_norm=True,
        final_norm=True,
        prompt_length=1,
        prompt_init='token',
        proj=True)
    neck = ProjectionNeck(512, 1024)
    trainable = sum(p.numel() for m in (backbone, neck)
                    for p in m.parameters() if p.requires_grad)
    print(f'CITE trainable parameters: {trainable:,}')
    assert trainable == 768 + 525_312 == 526_080
    frozen = sum(p.numel() for p in backbone.parameters()
                 if not p.requires_grad)
    # OpenAI CLIP ViT-B/16 visual, projection included.
    assert frozen == 86_192_640
    assert backbone(torch.randn(1, 3, 224, 224))[0].shape == (1, 512)


def test_no_prompt_equals_plain_vit():
    model = PromptedViT(prompt_length=0, **TINY).eval()
    images = torch.randn(2, 3, 32, 32)
    (out, ) = model(images)
    (expected, ) = plain_vit(model)(images)
    assert out.shape == (2, 32)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize('length', [1, 3])
def test_prompt_inserted_after_pre_norm(length):
    model = PromptedViT(prompt_length=length, **TINY).eval()
    images = torch.randn(2, 3, 32, 32)
    _, seen = layer_inputs(model, images)
    _, plain_seen = layer_inputs(plain_vit(model), images)
    tokens = seen[0]
    assert tokens.shape == (2, 1 + length + NUM_PATCHES, 32)
    # CLS, then the prompt, then the patches, all after pre_norm.
    torch.testing.assert_close(tokens[:, :1], plain_seen[0][:, :1])
    torch.testing.assert_close(tokens[:, 1:1 + length],
                               model.prompt[0].expand(2, -1, -1))
    torch.testing.assert_close(tokens[:, 1 + length:], plain_seen[0][:, 1:])


def test_deep_prompts_replace_tokens_per_layer():
    model = PromptedViT(prompt_length=2, prompt_layers=(0, 2), **TINY).eval()
    assert model.prompt.shape == (2, 2, 32)
    _, seen = layer_inputs(model, torch.randn(2, 3, 32, 32))
    prompts = model.prompt.detach()
    torch.testing.assert_close(seen[0][:, 1:3], prompts[0].expand(2, -1, -1))
    # Layer 1 sees layer 0's output; layer 2 gets its own prompt.
    assert not torch.allclose(seen[1][:, 1:3], prompts[0].expand(2, -1, -1))
    torch.testing.assert_close(seen[2][:, 1:3], prompts[1].expand(2, -1, -1))
    assert all(x.shape == (2, 1 + 2 + NUM_PATCHES, 32) for x in seen)


def test_prompt_inits():
    torch.manual_seed(0)
    normal = PromptedViT(prompt_length=50, prompt_init='normal', **TINY)
    assert 0.015 < normal.prompt.std() < 0.025
    uniform = PromptedViT(prompt_length=50, prompt_init='uniform', **TINY)
    assert uniform.prompt.abs().max() <= 0.08
    assert uniform.prompt.abs().max() > 0.07
    zero = PromptedViT(prompt_init='zero', **TINY)
    assert not zero.prompt.any()
    with pytest.raises(ValueError, match='prompt_init'):
        PromptedViT(prompt_init='kaiming', **TINY)
    with pytest.raises(ValueError, match='prompt_layers'):
        PromptedViT(prompt_layers=(1, 2), **TINY)
    with pytest.raises(ValueError, match='out_type'):
        PromptedViT(out_type='featmap', **TINY)


def test_token_init_applied_once():
    model = PromptedViT(prompt_length=2, prompt_init='token', **TINY)
    assert not model.prompt.any() and not model.prompt_initialized
    images = torch.randn(4, 3, 32, 32)
    # Not in eval mode: only a training batch initialises the prompt.
    model.eval()(images)
    assert not model.prompt.any() and not model.prompt_initialized

    model.train()
    _, plain_seen = layer_inputs(plain_vit(model), images)
    model(images)
    expected = plain_seen[0].mean(dim=(0, 1)).expand(1, 2, -1)
    torch.testing.assert_close(model.prompt.detach(), expected)
    assert model.prompt_initialized
    model(torch.randn(4, 3, 32, 32))
    torch.testing.assert_close(model.prompt.detach(), expected)

    # A restored checkpoint keeps its prompt (CITE re-applied it, Q2).
    state = model.state_dict()
    assert state['prompt_initialized']
    restored = PromptedViT(prompt_length=2, prompt_init='token', **TINY)
    restored.load_state_dict(state)
    restored.train()(torch.randn(4, 3, 32, 32))
    torch.testing.assert_close(restored.prompt.detach(), expected)


def test_freezing():
    model = PromptedViT(proj=True, proj_channels=16, **TINY)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ['prompt']
    model.train()
    assert model.training
    assert not any(m.training for m in model.children())
    assert model(torch.randn(1, 3, 32, 32))[0].shape == (1, 16)

    unfrozen = PromptedViT(freeze_vit=False, **TINY).train()
    assert all(p.requires_grad for p in unfrozen.parameters())
    assert all(m.training for m in unfrozen.modules())


CLIP_VIT = dict(
    arch=dict(
        embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=128),
    img_size=32,
    patch_size=8,
    drop_rate=0.,
    pre_norm=True,
    norm_cfg=dict(type='LN', eps=1e-5),
    layer_cfgs=dict(act_cfg=dict(type='QuickGELU')),
    proj=True,
    proj_channels=16)


@pytest.fixture(scope='module')
def tiny_clip_vit(tmp_path_factory):
    """A tiny OpenAI CLIP ViT archive and its image encoder in open_clip."""
    path = str(tmp_path_factory.mktemp('clip') / 'ViT-tiny.pt')
    save_tiny_openai_clip_vit(path)
    encoder = open_clip.transformer.VisionTransformer(
        image_size=32,
        patch_size=8,
        width=32,
        layers=2,
        heads=2,
        mlp_ratio=4.0,
        output_dim=16,
        act_layer=open_clip.transformer.QuickGELU)
    visual = {
        key[len('visual.'):]: value
        for key, value in torch.jit.load(path).state_dict().items()
        if key.startswith('visual.')
    }
    encoder.load_state_dict(visual)
    return path, encoder.eval()


def test_clip_weights_match_open_clip(tiny_clip_vit, tmp_path):
    path, encoder = tiny_clip_vit
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = encoder(images)
    model = PromptedViT(prompt_length=0, pretrained=path, **CLIP_VIT).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(images)[0], expected)

    # The runner's init_weights must not redraw the loaded weights.
    model = PromptedViT(pretrained=path, **CLIP_VIT)
    model.init_weights()
    model.prompt.data.zero_()
    model.eval()
    with torch.no_grad():
        prompted = model(images)[0]
    assert not torch.allclose(prompted, expected)  # a zero token attends
    assert model.prompt.requires_grad
    assert not model.pos_embed.requires_grad
    torch.testing.assert_close(model.pos_embed[0],
                               encoder.positional_embedding.detach())

    # open_clip's state dicts (OpenAI's names, saved by torch.save) and
    # mmpretrain's CLIP checkpoints (``visual.*`` in mmpretrain's names and
    # ``visual_proj.proj``) load the same weights.
    open_clip_path = tmp_path / 'open_clip_pytorch_model.bin'
    torch.save({
        f'visual.{k}': v
        for k, v in encoder.state_dict().items()
    }, open_clip_path)
    model = PromptedViT(
        prompt_length=0, pretrained=str(open_clip_path), **CLIP_VIT).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(images)[0], expected)
    plain = PromptedViT(prompt_length=0, pretrained=path, **CLIP_VIT)
    state = {
        f'visual.{k}': v
        for k, v in plain.state_dict().items()
        if k not in ('proj', 'prompt', 'prompt_initialized')
    }
    state['visual_proj.proj'] = plain.proj.detach()
    mmpretrain_path = tmp_path / 'mmpretrain_clip.pth'
    torch.save(dict(state_dict=state, meta=dict()), mmpretrain_path)
    model = PromptedViT(
        prompt_length=0, pretrained=str(mmpretrain_path), **CLIP_VIT).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(images)[0], expected)


def test_clip_weights_errors(tiny_clip_vit, tmp_path):
    path, _ = tiny_clip_vit
    with pytest.raises(FileNotFoundError, match='ViT-B-16.pt'):
        PromptedViT(pretrained=str(tmp_path / 'missing.pt'), **CLIP_VIT)
    wider = dict(CLIP_VIT, arch=dict(CLIP_VIT['arch'], embed_dims=64))
    with pytest.raises(ValueError, match='cls_token'):
        PromptedViT(pretrained=path, **wider)
    resnet = tmp_path / 'RN-tiny.pt'
    save_tiny_openai_clip(str(resnet))
    with pytest.raises(ValueError, match='CLIP ResNet'):
        PromptedViT(pretrained=str(resnet), **CLIP_VIT)
