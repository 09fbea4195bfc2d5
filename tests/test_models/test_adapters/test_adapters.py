# Copyright (c) OpenMMLab. All rights reserved.
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint, save_checkpoint
from mmengine.runner.checkpoint import get_state_dict
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmvlsm.models.adapters import Adapter, parameter_table
from mmvlsm.models.adapters.adapt import _checkpointed
from mmvlsm.registry import MODELS

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
QUICKSTART = osp.join(REPO, 'configs', 'quickstart',
                      'clipseg-tiny_1xb16-650it_toy-shapes-128x128.py')
CRIS_TINY = osp.join(REPO, 'configs', 'cris',
                     'cris-tiny_1xb16-40it_toy-shapes-128x128.py')
# The quickstart CLIPSeg: 3 vision layers of width 64, 2 text layers of
# width 64, projection 64.
DENSE_V = dict(
    type='ResidualAdapters',
    modules=r'vision_model\.encoder\.layers\.\d+\.(self_attn|mlp)',
    hidden_dims=8)
DENSE_L = dict(
    type='ResidualAdapters',
    modules=r'text_model\.encoder\.layers\.\d+\.(self_attn|mlp)',
    hidden_dims=8)
COND = dict(type='EmbeddingAdapter', embed_dims=64, hidden_dims=16)
SHALLOW_V = dict(
    type='ActivationAdapters',
    embed_dims=64,
    num_activations=3,
    hidden_dims=16)
SHALLOW_L = dict(
    type='TextLayerAdapters',
    layers=r'text_model\.encoder\.layers\.\d+',
    embed_dims=64,
    hidden_dims=16)
LORA = dict(
    type='LoRA',
    target_modules=r'(vision|text)_model\.encoder\.layers\.\d+\.self_attn\.'
    r'(q|v)_proj',
    r=4)
ALL = [DENSE_V, DENSE_L, SHALLOW_V, COND, SHALLOW_L]


def adapter_params(d, r):
    return 2 * d * r + r + d


@pytest.fixture(scope='module')
def host_checkpoint(tmp_path_factory):
    """Weights of the quickstart CLIPSeg as an mmvlsm checkpoint."""
    init_default_scope('mmvlsm')
    torch.manual_seed(0)
    host = MODELS.build(Config.fromfile(QUICKSTART).model)
    path = str(tmp_path_factory.mktemp('host') / 'host.pth')
    save_checkpoint({'state_dict': host.state_dict()}, path)
    return path


def build(host_checkpoint, adapters=None, **adapt_cfg):
    init_default_scope('mmvlsm')
    cfg = copy.deepcopy(Config.fromfile(QUICKSTART).model)
    if adapters is not None or adapt_cfg:
        cfg['adapt_cfg'] = dict(
            host_checkpoint=host_checkpoint,
            adapters=adapters or [],
            **adapt_cfg)
        return MODELS.build(cfg)
    model = MODELS.build(cfg)
    load_checkpoint(model, host_checkpoint, logger='silent')
    return model


def zero_init(configs, **extra):
    return [dict(cfg, zero_init=True, **extra) for cfg in configs]


def batch(with_gt=False, seed=0):
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for text in ('red circle on the left', 'a square'):
        sample = SegDataSample(metainfo=dict(text=text, ori_shape=(128, 128)))
        if with_gt:
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, 2, (1, 128, 128), generator=generator))
        samples.append(sample)
    inputs = torch.randint(
        0, 256, (2, 3, 128, 128), dtype=torch.uint8, generator=generator)
    return dict(inputs=inputs, data_samples=samples)


def logits(model, data):
    model.eval()
    data = model.data_preprocessor(data)
    with torch.no_grad():
        return model.encode_decode(data['inputs'], data['data_samples'])


def whole_state(model):
    """Every parameter and buffer, whatever the state-dict hooks keep."""
    state = {k: v.detach().clone() for k, v in model.named_parameters()}
    state.update({k: v.clone() for k, v in model.named_buffers()})
    return state


def test_adapter_is_vlsm_adapters_bottleneck():
    adapter = Adapter(6, 3)
    assert sum(p.numel() for p in adapter.parameters()) == adapter_params(6, 3)
    x = torch.randn(4, 6)
    h = torch.relu(adapter.fc2(torch.relu(adapter.fc1(x))))
    torch.testing.assert_close(adapter(x), x + h)
    assert torch.equal(Adapter(6, 3, zero_init=True)(x), x)
    scaled = Adapter(6, 3, learnable_scale=True, act_after_up=False)
    with torch.no_grad():
        scaled.scale.fill_(0.5)
    torch.testing.assert_close(
        scaled(x), x + 0.5 * scaled.fc2(torch.relu(scaled.fc1(x))))


def test_trainable_counts_and_what_runs_without_autograd(host_checkpoint):
    width, layers = 64, dict(vision=3, text=2)
    dense = 2 * adapter_params(width, 8)
    cases = [
        ([DENSE_V], layers['vision'] * dense, False, True),
        ([DENSE_V, DENSE_L], 5 * dense, False, False),
        ([SHALLOW_V, COND, SHALLOW_L
          ], (3 + 2) * adapter_params(width, 16) + adapter_params(width, 16),
         True, True),
        ([LORA], 5 * 2 * 4 * (width + width), False, False),
    ]
    for adapters, expected, vision_no_grad, text_no_grad in cases:
        model = build(host_checkpoint, adapters)
        trainable = sum(p.numel() for p in model.parameters()
                        if p.requires_grad)
        assert trainable == expected, adapters
        assert model.freeze_vision is vision_no_grad
        assert model.freeze_text is text_no_grad
    decoder_only = build(host_checkpoint, trainable=['decoder'])
    assert decoder_only.freeze_vision and decoder_only.freeze_text
    assert sum(p.numel() for p in decoder_only.parameters()
               if p.requires_grad) == sum(
                   p.numel() for p in decoder_only.decoder.parameters())
    rows = {row['module']: row for row in parameter_table(decoder_only)}
    assert rows['vision_model']['trainable'] == 0
    assert rows['all']['trainable'] == rows['decoder']['total']


@pytest.mark.parametrize(
    'adapters', [[a] for a in ALL] + [ALL],
    ids=lambda a: '+'.join(c['type'] for c in a))
def test_zero_initialised_adapters_start_as_the_host(host_checkpoint,
                                                     adapters):
    host = build(host_checkpoint)
    extra = [
        dict(add='delta') if a['type'] == 'TextLayerAdapters' else {}
        for a in adapters
    ]
    adapted = build(
        host_checkpoint,
        [dict(a, zero_init=True, **e) for a, e in zip(adapters, extra)])
    assert torch.equal(logits(adapted, batch()), logits(host, batch()))
    # Upstream's (random) init does change the output.
    changed = build(host_checkpoint, adapters)
    assert not torch.allclose(logits(changed, batch()), logits(host, batch()))


def test_lora_starts_as_the_host(host_checkpoint):
    host = build(host_checkpoint)
    lora = build(host_checkpoint, [LORA])
    assert torch.equal(logits(lora, batch()), logits(host, batch()))


def test_upstream_text_layer_adapters_add_the_end_token_feature(
        host_checkpoint):
    """With add='output' (VLSM-Adapter) the adapter's output, i.e. the
    layer's end-token feature plus the branch, is added to the embedding."""
    model = build(host_checkpoint, zero_init([SHALLOW_L])).eval()
    host = build(host_checkpoint).eval()
    ids, mask = host.tokenize(batch()['data_samples'], 'cpu')
    with torch.no_grad():
        states = host.text_model(
            input_ids=ids, attention_mask=mask,
            output_hidden_states=True).hidden_states
        end = mask.sum(1) - 1
        expected = host.encode_text(ids, mask) + sum(
            states[i + 1][torch.arange(2), end] for i in range(2))
        _, adapted = model.adapters[0].adapt_features(
            None, model.encode_text(ids, mask), mask)
    torch.testing.assert_close(adapted, expected)


@pytest.mark.parametrize('adapters', [ALL, [LORA]], ids=['adapters', 'lora'])
def test_training_changes_only_the_adapters(host_checkpoint, adapters,
                                            tmp_path):
    model = build(host_checkpoint, adapters)
    optim_wrapper = build_optim_wrapper(
        model,
        dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-2, weight_decay=1e-2)))
    before = whole_state(model)
    model.train()
    for step in range(2):
        model.train_step(batch(with_gt=True, seed=step), optim_wrapper)
    after = whole_state(model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    for key, value in before.items():
        if key in trainable:
            assert not torch.equal(after[key], value), key
        else:
            assert torch.equal(after[key], value), key

    # The checkpoint holds the trained weights only...
    path = tmp_path / 'adapted.pth'
    save_checkpoint({'state_dict': get_state_dict(model)}, str(path))
    saved = torch.load(path, weights_only=True)['state_dict']
    assert set(saved) == trainable
    full = tmp_path / 'full.pth'
    torch.save(whole_state(model), full)
    print(f'adapter checkpoint {path.stat().st_size:,} bytes, whole model '
          f'{full.stat().st_size:,} bytes')
    assert path.stat().st_size < 0.1 * full.stat().st_size
    # ... and loads onto the host the config names, giving the trained model
    # back exactly.
    restored = build(host_checkpoint, adapters)
    load_checkpoint(restored, str(path), strict=True, logger='silent')
    assert torch.equal(logits(restored, batch()), logits(model, batch()))
    # A checkpoint without an adapter's weights is refused by name.
    missing = sorted(saved)[0]
    del saved[missing]
    save_checkpoint({'state_dict': saved}, str(path))
    with pytest.raises(ValueError, match=missing.replace('.', r'\.')):
        load_checkpoint(build(host_checkpoint, adapters), str(path))


def test_adapt_cfg_errors(host_checkpoint):
    with pytest.raises(ValueError, match='Unknown adapt_cfg keys'):
        build(host_checkpoint, [], freeze=True)
    with pytest.raises(ValueError, match='No module'):
        build(host_checkpoint, [dict(DENSE_V, modules=r'encoder\.blocks')])
    with pytest.raises(ValueError, match='trainable names "head"'):
        build(host_checkpoint, trainable=['head'])
    with pytest.raises(ValueError, match='4 image activations'):
        build(host_checkpoint, [dict(SHALLOW_V, num_activations=4)]).eval()(
            **model_inputs(host_checkpoint))


def model_inputs(host_checkpoint):
    data = build(host_checkpoint).data_preprocessor(batch())
    return dict(
        inputs=data['inputs'],
        data_samples=data['data_samples'],
        mode='tensor')


def test_cris_adapters_in_text_encoder_and_decoder():
    init_default_scope('mmvlsm')
    torch.manual_seed(0)
    cfg = Config.fromfile(CRIS_TINY).model
    host = MODELS.build(cfg).eval()
    adapters = [
        dict(
            type='ResidualAdapters',
            modules=r'text_encoder\.transformer\.resblocks\.\d+\.(attn|mlp)',
            hidden_dims=8,
            zero_init=True),
        dict(
            type='ResidualAdapters',
            modules=r'decode_head\.decoder\.layers\.\d+\.'
            r'(self_attn|multihead_attn|ffn)',
            hidden_dims=8,
            zero_init=True),
    ]
    torch.manual_seed(0)
    adapted = MODELS.build(dict(cfg, adapt_cfg=dict(adapters=adapters)))
    # 2 text blocks x 2 and 2 decoder layers x 3 adapters of width 64.
    assert sum(p.numel() for p in adapted.parameters()
               if p.requires_grad) == 10 * adapter_params(64, 8)
    # Nothing trains in the ResNet: it runs without autograd, and its batch
    # norms keep their statistics in training mode.
    assert adapted.freeze_vision and not adapted.freeze_text
    adapted.train()
    assert not adapted.backbone.bn1.training
    assert not adapted.neck.txt_proj[1].training
    adapted.eval()
    inputs = torch.randn(2, 3, 128, 128)
    samples = [
        SegDataSample(metainfo=dict(text=t, ori_shape=(128, 128)))
        for t in ('a circle', 'the blue square')
    ]
    with torch.no_grad():
        # Equal up to round-off: a hooked nn.MultiheadAttention leaves
        # torch's fused inference path.
        torch.testing.assert_close(
            adapted.encode_decode(inputs, samples),
            host.encode_decode(inputs, samples),
            rtol=1e-5,
            atol=1e-6)


def test_biomedclipseg_adapters_in_timm_blocks_and_bert(tmp_path):
    from mmvlsm.models import BiomedCLIPSeg
    from mmvlsm.testing import save_tiny_open_clip
    save_tiny_open_clip(str(tmp_path))
    pretrained = f'local-dir:{tmp_path}'
    adapters = [
        dict(
            type='ResidualAdapters',
            modules=r'vision_model\.blocks\.([0-9]|10)\.(attn|mlp)',
            hidden_dims=8,
            zero_init=True),
        dict(
            type='ResidualAdapters',
            modules=r'text_model\.transformer\.encoder\.layer\.\d+\.'
            r'(attention\.output|output)\.dense',
            hidden_dims=8,
            zero_init=True),
    ]
    # The same random decoder in both.
    torch.manual_seed(0)
    host = BiomedCLIPSeg(pretrained=pretrained).eval()
    torch.manual_seed(0)
    adapted = BiomedCLIPSeg(
        pretrained=pretrained, adapt_cfg=dict(adapters=adapters)).eval()
    vision_width = host.vision_model.embed_dim
    text_width = host.text_model.transformer.config.hidden_size
    num_text_layers = host.text_model.transformer.config.num_hidden_layers
    assert sum(p.numel() for p in adapted.parameters() if p.requires_grad) == (
        11 * 2 * adapter_params(vision_width, 8) +
        num_text_layers * 2 * adapter_params(text_width, 8))
    assert not adapted.freeze_vision and not adapted.freeze_text
    inputs = torch.randn(2, 3, 224, 224)
    samples = [
        SegDataSample(metainfo=dict(text=t, ori_shape=(224, 224)))
        for t in ('a polyp', 'skin lesion')
    ]
    with torch.no_grad():
        assert torch.equal(
            adapted.encode_decode(inputs, samples),
            host.encode_decode(inputs, samples))


def test_checkpointed_layers_give_the_same_gradients(host_checkpoint):
    """Recomputing the encoder layers' activations in the backward pass
    (adapt_cfg.checkpoint) changes no gradient of the adapters inside."""
    grads = []
    for pattern in (None, r'(vision|text)_model\.encoder\.layers\.\d+'):
        torch.manual_seed(0)
        model = build(
            host_checkpoint, [DENSE_V, DENSE_L, COND], checkpoint=pattern)
        model.train()
        layer = model.vision_model.encoder.layers[0]
        assert (getattr(layer.forward, 'func', None)
                is _checkpointed) is bool(pattern)
        data = model.data_preprocessor(batch(with_gt=True), True)
        losses = model.loss(data['inputs'], data['data_samples'])
        sum(losses.values()).backward()
        grads.append({
            n: p.grad.clone()
            for n, p in model.named_parameters() if p.requires_grad
        })
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 0
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, msg=name)


def test_lora_after_other_adapters_leaves_them_trainable(host_checkpoint):
    model = build(host_checkpoint, [DENSE_V, LORA])
    assert all(p.requires_grad for n, p in model.named_parameters()
               if '.adapter.' in n)
    assert any('lora_A' in n for n, p in model.named_parameters()
               if p.requires_grad)
