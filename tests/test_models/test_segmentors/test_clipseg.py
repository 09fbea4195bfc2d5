# Copyright (c) OpenMMLab. All rights reserved.
import copy

import pytest
import torch
from mmengine.dataset import Compose, default_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from transformers import CLIPSegConfig, CLIPSegForImageSegmentation

from mmvlsm.models import CLIPSeg, openai_clip_tokenizer
from mmvlsm.registry import MODELS

# A tiny CLIPSeg: 3 ViT blocks of which the decoder reads the first two,
# patch 8 with the simple transposed convolution.
TINY = dict(
    text_config=dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2),
    vision_config=dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=2,
        image_size=32,
        patch_size=8),
    projection_dim=16,
    reduce_dim=16,
    extract_layers=[0, 1],
    decoder_num_attention_heads=2,
    decoder_intermediate_size=32,
    use_complex_transposed_convolution=False)
# The same with patch 16 and rd64-refined's complex transposed convolution.
TINY_COMPLEX = copy.deepcopy(TINY)
TINY_COMPLEX['vision_config']['patch_size'] = 16
TINY_COMPLEX['use_complex_transposed_convolution'] = True

TEXTS = ['a photo of a cat', 'small round polyp in the colon']
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


@pytest.fixture(scope='module')
def tokenizer():
    return openai_clip_tokenizer()


def _save_tiny(config, directory, tokenizer):
    torch.manual_seed(0)
    hf_model = CLIPSegForImageSegmentation(CLIPSegConfig(**config)).eval()
    hf_model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return hf_model


@pytest.fixture(scope='module')
def tiny_dir(tmp_path_factory, tokenizer):
    directory = tmp_path_factory.mktemp('tiny_clipseg')
    _save_tiny(TINY, directory, tokenizer)
    return str(directory)


def _samples(texts, size=None, ori_shape=(32, 32)):
    samples = []
    for text in texts:
        sample = SegDataSample(
            metainfo=dict(text=text, ori_shape=ori_shape, img_shape=(32, 32)))
        if size is not None:
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, 2, (1, size, size)))
        samples.append(sample)
    return samples


@pytest.mark.parametrize(
    'config', [TINY, TINY_COMPLEX], ids=['simple', 'complex'])
@pytest.mark.parametrize('size', [32, 64])
def test_logits_equal_transformers(config, size, tmp_path, tokenizer):
    hf_model = _save_tiny(config, tmp_path, tokenizer)
    model = CLIPSeg(pretrained=str(tmp_path)).eval()

    pixel_values = torch.randn(2, 3, size, size)
    tokens = tokenizer(TEXTS, padding=True, return_tensors='pt')
    with torch.no_grad():
        expected = hf_model(
            input_ids=tokens['input_ids'],
            pixel_values=pixel_values,
            attention_mask=tokens['attention_mask']).logits
        logits = model(pixel_values, _samples(TEXTS), mode='tensor')
    # The decoder output has the input size.
    assert logits.shape == (2, 1, size, size)
    assert torch.allclose(logits[:, 0], expected, atol=1e-5)


@pytest.mark.parametrize(
    'config', [TINY, TINY_COMPLEX], ids=['simple', 'complex'])
def test_sdpa_equals_eager_attention(config, tmp_path, tokenizer):
    _save_tiny(config, tmp_path, tokenizer)
    sdpa = CLIPSeg(pretrained=str(tmp_path)).eval()
    eager = CLIPSeg(pretrained=str(tmp_path), attn_implementation='eager')
    for model, kind in ((sdpa, 'sdpa'), (eager, 'eager')):
        assert model.hf_config._attn_implementation == kind
        assert model.text_model.config._attn_implementation == kind
        assert model.vision_model.config._attn_implementation == kind
    pixel_values = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = eager.eval()(pixel_values, _samples(TEXTS), mode='tensor')
        logits = sdpa(pixel_values, _samples(TEXTS), mode='tensor')
    # fp32 round-off of a differently ordered reduction, nothing more.
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)


def _pipeline_batch(texts, tokenizer_cfg, context_length):
    """A batch as the dataloader gives it, tokenised in the pipeline."""
    pipeline = Compose([
        dict(
            type='TokenizePrompt',
            tokenizer=tokenizer_cfg,
            context_length=context_length),
        dict(type='PackVLSMInputs'),
    ])
    generator = torch.Generator().manual_seed(0)
    items = [
        pipeline(
            dict(
                img=torch.randint(
                    0,
                    256, (32, 32, 3),
                    generator=generator,
                    dtype=torch.uint8).numpy(),
                img_shape=(32, 32),
                ori_shape=(40, 36),
                text=text)) for text in texts
    ]
    return default_collate(items)


def test_pipeline_tokens_give_the_logits_of_raw_text(tiny_dir):
    init_default_scope('mmvlsm')
    model = MODELS.build(
        dict(
            type='CLIPSeg',
            pretrained=tiny_dir,
            context_length=10,
            data_preprocessor=dict(
                type='VLSMDataPreProcessor', mean=MEAN, std=STD))).eval()
    texts = TEXTS + ['a much longer prompt that will be cut at ten tokens']
    batch = _pipeline_batch(texts, tiny_dir, 10)
    assert all('input_ids' in s for s in batch['data_samples'])
    raw = copy.deepcopy(batch)
    for sample in raw['data_samples']:
        del sample.input_ids
        del sample.attention_mask
    with torch.no_grad():
        tokenised = model.test_step(batch)
        from_text = model.test_step(raw)
    # The pipeline's ids reach the model, trimmed to the longest prompt.
    ids, _ = model.tokenize(
        model.data_preprocessor(batch)['data_samples'], torch.device('cpu'))
    assert ids.shape == (3, 10)
    for a, b in zip(tokenised, from_text):
        assert a.seg_logits.data.shape == (1, 40, 36)
        assert torch.equal(a.seg_logits.data, b.seg_logits.data)
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)


def test_pipeline_with_another_tokenizer_is_refused(tiny_dir):
    model = CLIPSeg(pretrained=tiny_dir, context_length=77)
    # Same vocabulary, other context length: the long prompt differs.
    batch = _pipeline_batch(
        ['a much longer prompt that will be cut at five tokens'],
        dict(type='openai_bpe'), 5)
    with pytest.raises(ValueError, match='differ from CLIPSeg'):
        model.test_step(batch)


def _train_one_step(model):
    """Return the parameters before and after one SGD step, and the names
    of the parameters that got a gradient."""
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model.train()
    data = dict(
        inputs=torch.randn(2, 3, 32, 32), data_samples=_samples(TEXTS, 32))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    sum(model(**data, mode='loss').values()).backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    optimizer.step()
    return before, dict(model.named_parameters()), with_grad


def _changed(before, after, prefix):
    """Whether any parameter under ``prefix`` changed."""
    return any(not torch.equal(before[n], p) for n, p in after.items()
               if n.startswith(prefix))


USED_VISION = 'vision_model.encoder.layers.1.'
UNUSED_VISION = 'vision_model.encoder.layers.2.'


def test_end_to_end_training_updates_encoders(tiny_dir):
    model = CLIPSeg(pretrained=tiny_dir)
    before, after, with_grad = _train_one_step(model)
    # Every trainable parameter gets a gradient, so DDP needs no
    # find_unused_parameters.
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert with_grad == trainable
    for prefix in ('vision_model.embeddings.', USED_VISION,
                   'text_model.embeddings.', 'text_model.encoder.',
                   'text_projection.', 'decoder.'):
        assert _changed(before, after, prefix), prefix
    # Blocks after the last extracted one, and the final layer norm, never
    # reach the decoder, so they are frozen.
    for prefix in (UNUSED_VISION, 'vision_model.post_layernorm.'):
        assert not _changed(before, after, prefix)
        assert not any(n.startswith(prefix) for n in with_grad)
        assert not any(p.requires_grad
                       for n, p in after.items() if n.startswith(prefix))


def test_frozen_encoders_train_decoder_only(tiny_dir):
    model = CLIPSeg(pretrained=tiny_dir, freeze_vision=True, freeze_text=True)
    before, after, with_grad = _train_one_step(model)
    for prefix in ('vision_model.', 'text_model.', 'text_projection.'):
        assert not _changed(before, after, prefix)
        assert not any(n.startswith(prefix) for n in with_grad)
    assert _changed(before, after, 'decoder.')
    assert all(n.startswith('decoder.') for n in with_grad)


def test_frozen_decoder_still_passes_gradients(tiny_dir):
    before, after, with_grad = _train_one_step(
        CLIPSeg(pretrained=tiny_dir, freeze_decoder=True))
    assert not _changed(before, after, 'decoder.')
    assert not any(n.startswith('decoder.') for n in with_grad)
    assert _changed(before, after, USED_VISION)
    assert _changed(before, after, 'text_model.')


def test_segmentor_api():
    init_default_scope('mmvlsm')
    model = MODELS.build(
        dict(
            type='CLIPSeg',
            config=TINY,
            tokenizer=dict(type='openai_bpe'),
            losses=[dict(type='SoftDiceLoss'),
                    dict(type='SigmoidBCELoss')],
            data_preprocessor=dict(
                type='VLSMDataPreProcessor',
                mean=MEAN,
                std=STD,
                bgr_to_rgb=True),
            test_cfg=dict(threshold=0.5)))
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)] * 2
    data = dict(inputs=images, data_samples=_samples(TEXTS, 32))

    processed = model.data_preprocessor(data, True)
    losses = model(**processed, mode='loss')
    assert set(losses) == {'loss_dice', 'loss_bce'}
    assert all(value.ndim == 0 for value in losses.values())

    log_vars = model.train_step(
        data, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01)))
    assert {'loss', 'loss_dice', 'loss_bce'} <= set(log_vars)

    data = dict(
        inputs=images, data_samples=_samples(TEXTS, ori_shape=(45, 30)))
    results = model.val_step(data)
    assert len(results) == 2
    for result in results:
        assert result.seg_logits.data.shape == (1, 45, 30)
        pred = result.pred_sem_seg.data
        assert pred.shape == (1, 45, 30) and pred.dtype == torch.long
        assert set(pred.unique().tolist()) <= {0, 1}
        assert torch.equal(pred, (result.seg_logits.data > 0).long())

    processed = model.data_preprocessor(data, False)
    logits = model(**processed, mode='tensor')
    assert logits.shape == (2, 1, 32, 32)


def test_init_weights_keeps_loaded_weights(tiny_dir):
    model = CLIPSeg(pretrained=tiny_dir)
    state = copy.deepcopy(model.state_dict())
    model.init_weights()
    for name, value in model.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_random_init_gives_small_logits():
    model = CLIPSeg(config=TINY, tokenizer=dict(type='openai_bpe')).eval()
    with torch.no_grad():
        logits = model(
            torch.randn(2, 3, 32, 32), _samples(TEXTS), mode='tensor')
    assert logits.abs().max() < 10


def test_missing_pretrained_raises_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        CLIPSeg(pretrained='CIDAS/clipseg-rd64-refined-missing')
    message = str(info.value)
    assert 'HF_HUB_OFFLINE=1' in message
    assert 'hf download CIDAS/clipseg-rd64-refined-missing' in message
    with pytest.raises(FileNotFoundError, match='not-there'):
        CLIPSeg(pretrained=str(tmp_path / 'not-there'))


def test_invalid_arguments(tiny_dir):
    with pytest.raises(ValueError, match='exactly one'):
        CLIPSeg()
    with pytest.raises(ValueError, match='exactly one'):
        CLIPSeg(pretrained=tiny_dir, config=TINY)
    with pytest.raises(ValueError, match='needs a `tokenizer`'):
        CLIPSeg(config=TINY)
    small_vocab = copy.deepcopy(TINY)
    small_vocab['text_config']['vocab_size'] = 100
    with pytest.raises(ValueError, match='49408 tokens'):
        CLIPSeg(config=small_vocab, tokenizer=dict(type='openai_bpe'))
    model = CLIPSeg(pretrained=tiny_dir)
    with pytest.raises(ValueError, match='square'):
        model(torch.randn(1, 3, 32, 64), _samples(TEXTS[:1]), mode='tensor')
    with pytest.raises(ValueError, match='divisible by 8'):
        model(torch.randn(1, 3, 36, 36), _samples(TEXTS[:1]), mode='tensor')


def _count_calls(model, names):
    """Forward calls of the named submodules, counted by hooks."""
    counts = dict.fromkeys(names, 0)
    for name in names:
        model.get_submodule(name).register_forward_hook(
            lambda module, args, output, name=name: counts.update(
                {name: counts[name] + 1}))
    return counts


def _full_tower_features(model, images):
    """The decoder's activations from transformers' whole vision forward."""
    hidden_states = model.vision_model(
        pixel_values=images,
        output_hidden_states=True,
        interpolate_pos_encoding=True).hidden_states
    return [hidden_states[i + 1] for i in model.extract_layers]


def test_vision_tower_stops_after_the_last_extracted_block(tiny_dir):
    """The decoder reads blocks 0 and 1 of 3: block 2 and the final layer
    norm never run, and the logits are transformers' to the bit."""
    hf_model = CLIPSegForImageSegmentation.from_pretrained(tiny_dir).eval()
    model = CLIPSeg(pretrained=tiny_dir).eval()
    assert model.unused_modules == [
        'vision_model.encoder.layers.2', 'vision_model.post_layernorm'
    ]
    counts = _count_calls(model, [
        'vision_model.encoder.layers.1', 'vision_model.encoder.layers.2',
        'vision_model.post_layernorm'
    ])
    images = torch.randn(2, 3, 32, 32)
    ids, mask = model.tokenize(_samples(TEXTS), torch.device('cpu'))
    with torch.no_grad():
        logits = model(images, _samples(TEXTS), mode='tensor')
        expected = hf_model(
            input_ids=ids, pixel_values=images, attention_mask=mask).logits
    assert counts == {
        'vision_model.encoder.layers.1': 1,
        'vision_model.encoder.layers.2': 0,
        'vision_model.post_layernorm': 0
    }
    assert torch.equal(logits[:, 0], expected)


def test_short_tower_trains_as_the_full_tower(tiny_dir):
    """Same losses and the same gradient for every parameter."""
    model = CLIPSeg(pretrained=tiny_dir)
    images = torch.randn(2, 3, 32, 32)
    samples = _samples(TEXTS, 32)
    losses = model.loss(images, samples)
    sum(losses.values()).backward()
    grads = {
        n: p.grad
        for n, p in model.named_parameters() if p.grad is not None
    }
    model.zero_grad(set_to_none=True)

    ids, mask = model.tokenize(samples, torch.device('cpu'))
    logits = model.decode(
        _full_tower_features(model, images), model.encode_text(ids, mask))
    gt = torch.stack([sample.gt_sem_seg.data for sample in samples])
    expected = {m.loss_name: m(logits, gt) for m in model.losses}
    sum(expected.values()).backward()
    for name, value in losses.items():
        assert torch.equal(value, expected[name]), name
    full = {
        n: p.grad
        for n, p in model.named_parameters() if p.grad is not None
    }
    assert grads.keys() == full.keys()
    assert any(n.startswith(USED_VISION) for n in grads)
    for name, grad in grads.items():
        assert torch.equal(grad, full[name]), name


@pytest.mark.parametrize(
    'adapt_cfg', [
        dict(adapters=[
            dict(
                type='ResidualAdapters',
                modules=r'vision_model\.encoder\.layers\.[0-2]\.mlp',
                hidden_dims=4)
        ]),
        dict(adapters=[
            dict(
                type='LoRA',
                target_modules=r'vision_model\.encoder\.layers\.2\.self_attn'
                r'\.q_proj')
        ]),
        dict(trainable=['vision_model.post_layernorm']),
    ],
    ids=['adapters', 'lora', 'trainable'])
def test_training_what_never_runs_is_refused(tiny_dir, adapt_cfg):
    with pytest.raises(ValueError, match='never runs vision_model'):
        CLIPSeg(pretrained=tiny_dir, adapt_cfg=adapt_cfg)
    # Blocks the decoder reads can be adapted.
    CLIPSeg(
        pretrained=tiny_dir,
        adapt_cfg=dict(adapters=[
            dict(
                type='ResidualAdapters',
                modules=r'vision_model\.encoder\.layers\.[01]\.mlp',
                hidden_dims=4)
        ]))


def test_repeated_prompts_are_encoded_once(tiny_dir):
    model = CLIPSeg(pretrained=tiny_dir).eval()
    texts = [TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0]]
    encoded = []
    model.text_model.register_forward_pre_hook(
        lambda module, args, kwargs: encoded.append(kwargs['input_ids']),
        with_kwargs=True)
    images = torch.randn(4, 3, 32, 32)
    samples = _samples(texts, ori_shape=(40, 36))
    ids, mask = model.tokenize(samples, torch.device('cpu'))
    with torch.no_grad():
        per_sample = model.segment(images, ids, mask)
        encoded.clear()
        results = model.predict(images, samples)
    # One encoding of the two distinct prompts, in order of appearance.
    assert len(encoded) == 1 and torch.equal(encoded[0], ids[:2])
    logits = torch.stack([r.seg_logits.data for r in results])
    expected = torch.nn.functional.interpolate(
        per_sample, size=(40, 36), mode='bilinear')
    torch.testing.assert_close(logits, expected)
    assert torch.equal(
        torch.stack([r.pred_sem_seg.data for r in results]), (expected
                                                              > 0).long())
