# Copyright (c) OpenMMLab. All rights reserved.
"""The official-CRIS key mapping, checked three ways: against the full list
of official R50 keys, by a round trip, and by comparing our converted
model's logits with a functional forward written directly on the official
state dict (so a swapped or transposed weight of equal shape is caught)."""
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmvlsm.models import CRIS
from mmvlsm.models.utils import (cris_to_mmvlsm, load_weights_exactly,
                                 mmvlsm_to_cris)
from mmvlsm.registry import MODELS

TESTS = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REPO = osp.dirname(TESTS)
KEYS_FILE = osp.join(TESTS, 'data', 'cris_r50_state_dict_keys.txt')
TINY_CONFIG = osp.join(REPO, 'configs', 'cris',
                       'cris-tiny_1xb16-40it_toy-shapes-128x128.py')


def official_r50_shapes():
    """Key -> shape of the official CRIS R50 state dict."""
    shapes = {}
    with open(KEYS_FILE) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            key, rest = line.split(' ', 1)
            shapes[key] = tuple(eval(rest.rsplit(' ', 1)[0]))
    return shapes


@pytest.mark.parametrize('prefix', ['', 'module.'])
def test_every_official_r50_key_fills_every_model_weight(prefix):
    shapes = official_r50_shapes()
    assert len(shapes) == 662
    official = {prefix + k: torch.empty(s) for k, s in shapes.items()}
    converted = cris_to_mmvlsm(official)
    own = CRIS(clip_pretrained=None).state_dict()
    assert sorted(converted) == sorted(own)
    for key, value in converted.items():
        assert value.shape == own[key].shape, key
    # All but the unused logit scale.
    assert len(converted) == len(official) - 1


def test_unknown_missing_and_misshapen_keys_are_named():
    model = CRIS(clip_pretrained=None)
    official = mmvlsm_to_cris(model.state_dict())
    with pytest.raises(ValueError, match='aux_head.weight'):
        cris_to_mmvlsm({**official, 'aux_head.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match='neck.extra.weight'):
        load_weights_exactly(
            model,
            cris_to_mmvlsm({
                **official, 'neck.extra.weight': torch.zeros(1)
            }), 'test')
    with pytest.raises(ValueError, match='decode_head.proj.txt.weight'):
        load_weights_exactly(
            model,
            cris_to_mmvlsm({
                **official, 'proj.txt.weight':
                torch.zeros(1025, 512)
            }), 'test')
    del official['proj.txt.bias']
    with pytest.raises(ValueError, match='decode_head.proj.txt.bias'):
        load_weights_exactly(model, cris_to_mmvlsm(official), 'test')


# A forward pass of official CRIS (eval mode) written on its state dict.


def _bn(x, sd, name):
    return F.batch_norm(x, sd[f'{name}.running_mean'],
                        sd[f'{name}.running_var'], sd[f'{name}.weight'],
                        sd[f'{name}.bias'], False, 0.0, 1e-5)


def _conv_bn_relu(x, sd, name):
    weight = sd[f'{name}.0.weight']
    return F.relu(
        _bn(
            F.conv2d(x, weight, padding=weight.shape[-1] // 2), sd,
            f'{name}.1'))


def _mha(query,
         key,
         value,
         sd,
         name,
         num_heads,
         key_padding_mask=None,
         attn_mask=None):
    """torch's functional attention on (L, B, C) inputs."""
    return F.multi_head_attention_forward(
        query,
        key,
        value,
        query.shape[-1],
        num_heads,
        sd[f'{name}.in_proj_weight'],
        sd[f'{name}.in_proj_bias'],
        None,
        None,
        False,
        0.0,
        sd[f'{name}.out_proj.weight'],
        sd[f'{name}.out_proj.bias'],
        training=False,
        key_padding_mask=key_padding_mask,
        need_weights=False,
        attn_mask=attn_mask)[0]


def _visual(x, sd, num_heads):
    p = 'backbone.visual'
    for i in (1, 2, 3):
        x = F.relu(
            _bn(
                F.conv2d(
                    x,
                    sd[f'{p}.conv{i}.weight'],
                    stride=2 if i == 1 else 1,
                    padding=1), sd, f'{p}.bn{i}'))
    x = F.avg_pool2d(x, 2)
    outs = []
    for stage in (1, 2, 3, 4):
        block = 0
        while f'{p}.layer{stage}.{block}.conv1.weight' in sd:
            b = f'{p}.layer{stage}.{block}'
            stride = 2 if stage > 1 and block == 0 else 1
            out = F.relu(
                _bn(F.conv2d(x, sd[f'{b}.conv1.weight']), sd, f'{b}.bn1'))
            out = F.relu(
                _bn(
                    F.conv2d(out, sd[f'{b}.conv2.weight'], padding=1), sd,
                    f'{b}.bn2'))
            if stride > 1:
                out = F.avg_pool2d(out, stride)
            out = _bn(F.conv2d(out, sd[f'{b}.conv3.weight']), sd, f'{b}.bn3')
            identity = x
            if f'{b}.downsample.0.weight' in sd:
                if stride > 1:
                    identity = F.avg_pool2d(identity, stride)
                identity = _bn(
                    F.conv2d(identity, sd[f'{b}.downsample.0.weight']), sd,
                    f'{b}.downsample.1')
            x = F.relu(out + identity)
            block += 1
        outs.append(x)
    # The attention pool over all positions, with the residual branch.
    a = f'{p}.attnpool'
    batch, channels, h, w = x.shape
    residual = _bn(
        F.conv2d(x, sd[f'{a}.connect.0.weight']), sd, f'{a}.connect.1')
    pos = sd[f'{a}.positional_embedding']
    side = int(math.sqrt(pos.shape[0] - 1))
    pos = pos[-side * side:].reshape(1, side, side,
                                     channels).permute(0, 3, 1, 2)
    pos = F.interpolate(pos, size=(h, w), mode='bicubic', align_corners=False)
    tokens = (x.reshape(batch, channels, -1) + pos.flatten(2)).permute(2, 0, 1)
    pooled = F.multi_head_attention_forward(
        tokens,
        tokens,
        tokens,
        channels,
        num_heads,
        None,
        torch.cat([
            sd[f'{a}.q_proj.bias'], sd[f'{a}.k_proj.bias'],
            sd[f'{a}.v_proj.bias']
        ]),
        None,
        None,
        False,
        0.0,
        sd[f'{a}.c_proj.weight'],
        sd[f'{a}.c_proj.bias'],
        training=False,
        need_weights=False,
        use_separate_proj_weight=True,
        q_proj_weight=sd[f'{a}.q_proj.weight'],
        k_proj_weight=sd[f'{a}.k_proj.weight'],
        v_proj_weight=sd[f'{a}.v_proj.weight'])[0]
    c5 = F.relu(pooled.permute(1, 2, 0).reshape(batch, -1, h, w) + residual)
    return outs[1], outs[2], c5


def _text(ids, sd, num_heads):
    p = 'backbone'
    length = ids.shape[1]
    x = sd[f'{p}.token_embedding.weight'][ids] + sd[
        f'{p}.positional_embedding'][:length]
    x = x.permute(1, 0, 2)
    causal = torch.full((length, length), float('-inf'), dtype=x.dtype).triu(1)
    width = x.shape[-1]
    block = 0
    while f'{p}.transformer.resblocks.{block}.ln_1.weight' in sd:
        b = f'{p}.transformer.resblocks.{block}'
        h = F.layer_norm(x, (width, ), sd[f'{b}.ln_1.weight'],
                         sd[f'{b}.ln_1.bias'])
        x = x + _mha(h, h, h, sd, f'{b}.attn', num_heads, attn_mask=causal)
        h = F.layer_norm(x, (width, ), sd[f'{b}.ln_2.weight'],
                         sd[f'{b}.ln_2.bias'])
        h = F.linear(h, sd[f'{b}.mlp.c_fc.weight'], sd[f'{b}.mlp.c_fc.bias'])
        h = h * torch.sigmoid(1.702 * h)
        x = x + F.linear(h, sd[f'{b}.mlp.c_proj.weight'],
                         sd[f'{b}.mlp.c_proj.bias'])
        block += 1
    x = F.layer_norm(
        x.permute(1, 0, 2), (width, ), sd[f'{p}.ln_final.weight'],
        sd[f'{p}.ln_final.bias'])
    state = x[torch.arange(x.shape[0]),
              ids.argmax(-1)] @ sd[f'{p}.text_projection']
    return x, state


def _neck(feats, state, sd):
    v3, v4, v5 = feats
    state = F.relu(
        F.batch_norm(
            F.linear(state, sd['neck.txt_proj.0.weight']),
            sd['neck.txt_proj.1.running_mean'],
            sd['neck.txt_proj.1.running_var'], sd['neck.txt_proj.1.weight'],
            sd['neck.txt_proj.1.bias'], False, 0.0, 1e-5))
    f5 = _conv_bn_relu(v5, sd, 'neck.f1_v_proj')
    f5 = F.relu(_bn(f5 * state[:, :, None, None], sd, 'neck.norm_layer.0'))
    f4 = _conv_bn_relu(v4, sd, 'neck.f2_v_proj')
    f4 = _conv_bn_relu(
        torch.cat([f4, F.interpolate(f5, scale_factor=2, mode='bilinear')], 1),
        sd, 'neck.f2_cat')
    f3 = F.avg_pool2d(_conv_bn_relu(v3, sd, 'neck.f3_v_proj'), 2, 2)
    f3 = _conv_bn_relu(torch.cat([f3, f4], 1), sd, 'neck.f3_cat')
    fq5 = F.interpolate(
        _conv_bn_relu(f5, sd, 'neck.f4_proj5'),
        scale_factor=2,
        mode='bilinear')
    fq = torch.cat([
        _conv_bn_relu(f3, sd, 'neck.f4_proj3'),
        _conv_bn_relu(f4, sd, 'neck.f4_proj4'), fq5
    ], 1)
    fq = _conv_bn_relu(fq, sd, 'neck.aggr')
    b, _, h, w = fq.shape
    ys, xs = torch.meshgrid(
        torch.linspace(-1, 1, h, dtype=fq.dtype),
        torch.linspace(-1, 1, w, dtype=fq.dtype),
        indexing='ij')
    coords = torch.stack([xs, ys])[None].expand(b, -1, -1, -1)
    fq = _conv_bn_relu(
        torch.cat([fq, coords], 1), sd, 'neck.coordconv.0.conv1')
    return _conv_bn_relu(fq, sd, 'neck.coordconv.1')


def _pos1d(length, d):
    pe = torch.zeros(length, d, dtype=torch.float64)
    for pos in range(length):
        for i in range(0, d, 2):
            angle = pos / 10000**(i / d)
            pe[pos, i], pe[pos, i + 1] = math.sin(angle), math.cos(angle)
    return pe


def _pos2d(h, w, d):
    half = d // 2
    pe = torch.zeros(h, w, d, dtype=torch.float64)
    pe[:, :, :half] = _pos1d(w, half)[None]
    pe[:, :, half:] = _pos1d(h, half)[:, None]
    return pe.reshape(h * w, 1, d)


def _decoder(fq, words, pad_mask, sd, num_heads):
    b, c, h, w = fq.shape
    vis = fq.reshape(b, c, -1).permute(2, 0, 1)
    txt = words.permute(1, 0, 2)
    vis_pos = _pos2d(h, w, c).to(fq.dtype)
    txt_pos = _pos1d(words.shape[1], c)[:, None].to(fq.dtype)

    def ln(x, name):
        return F.layer_norm(x, (x.shape[-1], ), sd[f'{name}.weight'],
                            sd[f'{name}.bias'])

    layer = 0
    while f'decoder.layers.{layer}.norm1.weight' in sd:
        p = f'decoder.layers.{layer}'
        v2 = ln(vis, f'{p}.norm1')
        v2 = _mha(v2 + vis_pos, v2 + vis_pos, v2, sd, f'{p}.self_attn',
                  num_heads)
        vis = vis + ln(v2, f'{p}.self_attn_norm')
        v2 = ln(vis, f'{p}.norm2')
        v2 = _mha(
            v2 + vis_pos,
            txt + txt_pos,
            txt,
            sd,
            f'{p}.multihead_attn',
            num_heads,
            key_padding_mask=pad_mask)
        vis = vis + ln(v2, f'{p}.cross_attn_norm')
        v2 = ln(vis, f'{p}.norm3')
        v2 = F.relu(
            F.linear(v2, sd[f'{p}.ffn.0.weight'], sd[f'{p}.ffn.0.bias']))
        v2 = ln(v2, f'{p}.ffn.3')
        vis = vis + F.linear(v2, sd[f'{p}.ffn.4.weight'],
                             sd[f'{p}.ffn.4.bias'])
        layer += 1
    return ln(vis, 'decoder.norm').permute(1, 2, 0).reshape(b, c, h, w)


def _projector(x, state, sd):
    x = F.interpolate(x, scale_factor=2, mode='bilinear')
    x = _conv_bn_relu(x, sd, 'proj.vis.1')
    x = F.interpolate(x, scale_factor=2, mode='bilinear')
    x = _conv_bn_relu(x, sd, 'proj.vis.3')
    x = F.conv2d(x, sd['proj.vis.4.weight'], sd['proj.vis.4.bias'])
    params = F.linear(state, sd['proj.txt.weight'], sd['proj.txt.bias'])
    outs = []
    for i in range(x.shape[0]):
        kernel = params[i, :-1].reshape(1, x.shape[1], 3, 3)
        outs.append(F.conv2d(x[i:i + 1], kernel, params[i, -1:], padding=1))
    return torch.cat(outs)


def official_forward(sd, image, ids, visual_heads, text_heads, decoder_heads):
    """Official CRIS in eval mode; ``ids`` padded with 0 as CRIS does."""
    feats = _visual(image, sd, visual_heads)
    words, state = _text(ids, sd, text_heads)
    fq = _neck(feats, state, sd)
    return _projector(
        _decoder(fq, words, ids == 0, sd, decoder_heads), state, sd)


def test_converted_weights_reproduce_the_official_forward():
    init_default_scope('mmvlsm')
    model_cfg = Config.fromfile(TINY_CONFIG).model
    model = MODELS.build(model_cfg).double().eval()
    generator = torch.Generator().manual_seed(0)
    # Random, distinct values everywhere (BN statistics and CLIP's
    # zero-initialised BN scales included), as a trained model has.
    official = {}
    for key, value in mmvlsm_to_cris(model.state_dict()).items():
        if value.is_floating_point():
            value = torch.rand(
                value.shape, generator=generator, dtype=torch.float64)
            value = value + 0.5 if key.endswith('running_var') else (value -
                                                                     0.5) * 0.5
        official[key] = value
    checkpoint = {f'module.{k}': v for k, v in official.items()}
    load_weights_exactly(model, cris_to_mmvlsm(checkpoint), 'test')

    image = torch.randn(
        2, 3, 128, 128, generator=generator, dtype=torch.float64)
    ids = torch.zeros(2, 17, dtype=torch.long)
    ids[0, :4] = torch.tensor([49406, 320, 6833, 49407])
    ids[1, :7] = torch.tensor([49406, 518, 1910, 1746, 4102, 736, 49407])
    expected = official_forward(
        official,
        image,
        ids,
        visual_heads=model_cfg.backbone.heads,
        text_heads=model_cfg.text_encoder.heads,
        decoder_heads=model_cfg.decode_head.num_heads)
    with torch.no_grad():
        logits = model.decode(
            model.extract_feat(image), model.encode_text(ids, ids != 0))
    assert logits.shape == expected.shape == (2, 1, 32, 32)
    torch.testing.assert_close(logits, expected, rtol=1e-9, atol=1e-9)

    # And back: the export gives the official tensors under their names.
    exported = mmvlsm_to_cris(model.state_dict())
    assert sorted(exported) == sorted(official)
    for key, value in official.items():
        if key != 'backbone.logit_scale':
            assert torch.equal(exported[key], value), key
