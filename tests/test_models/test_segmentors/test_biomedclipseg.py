# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp
import shutil
import subprocess
import sys

import open_clip
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from transformers import CLIPSegConfig, CLIPSegForImageSegmentation

from mmvlsm.models import BiomedCLIPSeg, build_tokenizer
from mmvlsm.testing import add_to_hub_cache, save_tiny_open_clip

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TEXTS = ['red circle on the left', 'a small polyp']


@pytest.fixture(scope='module')
def tiny_dir(tmp_path_factory):
    """A tiny BiomedCLIP-like open_clip model (12-block ViT, 2-layer BERT)
    saved as a local directory."""
    directory = str(tmp_path_factory.mktemp('tiny_biomedclip'))
    save_tiny_open_clip(directory)
    return directory


@pytest.fixture(scope='module')
def reference(tiny_dir):
    """The same model loaded by open_clip itself."""
    return open_clip.create_model(
        'local-dir:' + tiny_dir, require_pretrained=True).eval()


@pytest.fixture(scope='module')
def model(tiny_dir):
    return BiomedCLIPSeg(pretrained='local-dir:' + tiny_dir).eval()


def _samples(texts, gt_size=None):
    samples = []
    for text in texts:
        sample = SegDataSample(
            metainfo=dict(text=text, ori_shape=(60, 80), img_shape=(224, 224)))
        if gt_size is not None:
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, 2, (1, gt_size, gt_size)))
        samples.append(sample)
    return samples


def test_loads_the_saved_weights_and_tokenizer(tiny_dir, model, reference):
    for ours, theirs in ((model.vision_model, reference.visual.trunk),
                         (model.text_model, reference.text)):
        theirs = theirs.state_dict()
        for name, value in ours.state_dict().items():
            assert torch.equal(value, theirs[name]), name
    # A bare directory means the same as local-dir:.
    assert torch.equal(
        BiomedCLIPSeg(pretrained=tiny_dir).text_model.proj[0].weight,
        model.text_model.proj[0].weight)
    # Prompts are tokenised by the open_clip model's own HF tokenizer, and
    # the pipeline is told the same.
    upstream = open_clip.get_tokenizer('local-dir:' + tiny_dir).tokenizer
    assert model.tokenizer(TEXTS)['input_ids'] == upstream(TEXTS)['input_ids']
    tokenizer_cfg, context_length = BiomedCLIPSeg.prompt_tokenizer_cfg(
        dict(pretrained=tiny_dir))
    assert tokenizer_cfg == dict(
        type='open_clip', name='local-dir:' + tiny_dir)
    assert context_length == 256
    assert build_tokenizer(tokenizer_cfg)(TEXTS)['input_ids'] == \
        upstream(TEXTS)['input_ids']


def test_text_embedding_equals_open_clip(model, reference):
    ids, mask = model.tokenize(_samples(TEXTS), torch.device('cpu'))
    assert (mask == 0).any()  # the shorter prompt is padded
    with torch.no_grad():
        ours = model.encode_text(ids, mask)
        theirs = reference.encode_text(ids, normalize=False)
    assert ours.shape == (2, 64)
    torch.testing.assert_close(ours, theirs)


def test_decoder_reads_blocks_5_8_and_11(model):
    """The decoder gets the outputs of blocks 4, 7 and 10 (0-based), class
    token first, computed as medvlsm did: patch embedding, position
    embedding, pre-norm, then the blocks."""
    trunk = model.vision_model
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        x = trunk.norm_pre(trunk._pos_embed(trunk.patch_embed(images)))
        block_outputs = []
        for block in trunk.blocks:
            x = block(x)
            block_outputs.append(x)
        fed = []
        handle = model.decoder.register_forward_pre_hook(
            lambda module, args: fed.extend(args[0]))
        logits = model._forward(images, _samples(TEXTS))
        handle.remove()
    assert len(fed) == 3
    for activation, block in zip(fed, (4, 7, 10)):
        assert activation.shape == (2, 1 + 14 * 14, 192)
        torch.testing.assert_close(activation, block_outputs[block])
    # Not CLIPSeg's blocks 3, 6, 9.
    assert not torch.allclose(fed[0], block_outputs[3])
    # 14x14 patches upsampled by 16; a fresh decoder gives small logits.
    assert logits.shape == (2, 1, 224, 224)
    assert logits.abs().max() < 10


def test_predict_resizes_to_the_original_image(model):
    with torch.no_grad():
        results = model.predict(torch.randn(2, 3, 224, 224), _samples(TEXTS))
    assert results[0].pred_sem_seg.shape == (60, 80)


def _grads(model):
    """Names of the parameters that get a gradient from one loss."""
    model.train()
    losses = model(
        torch.randn(2, 3, 224, 224), _samples(TEXTS, 224), mode='loss')
    sum(losses.values()).backward()
    return {n for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    'freeze', [{}, {
        'freeze_vision': True
    }, {
        'freeze_text': True
    }, {
        'freeze_decoder': True
    }],
    ids=['none', 'vision', 'text', 'decoder'])
def test_what_trains(tiny_dir, freeze):
    model = BiomedCLIPSeg(pretrained=tiny_dir, **freeze)
    with_grad = _grads(model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    # Every trainable parameter gets a gradient (DDP needs no
    # find_unused_parameters) and no frozen one does.
    assert with_grad == trainable
    parts = {
        'vision': 'vision_model.blocks.0.',
        'text': 'text_model.transformer.',
        'decoder': 'decoder.'
    }
    for part, prefix in parts.items():
        trained = any(n.startswith(prefix) for n in with_grad)
        assert trained != freeze.get(f'freeze_{part}', False), part
    # Blocks after the last extracted one and the final norm never reach the
    # decoder.
    for unused in ('vision_model.blocks.11.', 'vision_model.norm.'):
        assert not any(n.startswith(unused) for n in trainable)


def _save_clipseg(directory, projection_dim=64):
    """A tiny CLIPSeg whose decoder fits the tiny BiomedCLIP encoders."""
    config = CLIPSegConfig(
        text_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2),
        vision_config=dict(
            hidden_size=192,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=2,
            patch_size=16),
        projection_dim=projection_dim,
        reduce_dim=16,
        extract_layers=[0, 1, 2],
        decoder_num_attention_heads=2,
        decoder_intermediate_size=32,
        use_complex_transposed_convolution=True)
    torch.manual_seed(1)
    clipseg = CLIPSegForImageSegmentation(config)
    clipseg.save_pretrained(directory)
    return clipseg


def test_d_variant_copies_the_clipseg_decoder(tiny_dir, tmp_path):
    clipseg = _save_clipseg(tmp_path)
    model = BiomedCLIPSeg(pretrained=tiny_dir, decoder_pretrained=tmp_path)
    theirs = clipseg.decoder.state_dict()
    ours = model.decoder.state_dict()
    assert ours.keys() == theirs.keys()
    for name, value in ours.items():
        assert torch.equal(value, theirs[name]), name
    with torch.no_grad():
        assert model._forward(
            torch.randn(1, 3, 224, 224),
            _samples(TEXTS[:1])).shape == (1, 1, 224, 224)


def test_d_variant_refuses_a_decoder_of_other_sizes(tiny_dir, tmp_path):
    _save_clipseg(tmp_path, projection_dim=32)
    with pytest.raises(ValueError, match='does not fit'):
        BiomedCLIPSeg(pretrained=tiny_dir, decoder_pretrained=tmp_path)


def test_bad_inputs_are_refused(tiny_dir, model):
    with pytest.raises(ValueError, match='224x224 inputs'):
        model._forward(torch.randn(1, 3, 128, 128), _samples(TEXTS[:1]))
    with pytest.raises(ValueError, match='extract_layers'):
        BiomedCLIPSeg(pretrained=tiny_dir, extract_layers=[4, 12])
    with pytest.raises(ValueError, match='not an open_clip model'):
        BiomedCLIPSeg(pretrained='no/such/dir')
    with pytest.raises(TypeError, match='An open_clip model is named by'):
        BiomedCLIPSeg(pretrained=None)


def test_missing_weights_are_an_error(tiny_dir, tmp_path):
    """Never a silent random initialisation."""
    with pytest.raises(FileNotFoundError, match='hf download'):
        BiomedCLIPSeg(pretrained='hf-hub:no-org/no-model')
    no_weights = tmp_path / 'no_weights'
    shutil.copytree(tiny_dir, no_weights)
    os.remove(no_weights / 'open_clip_model.safetensors')
    with pytest.raises(OSError, match='open_clip_model.safetensors'):
        BiomedCLIPSeg(pretrained=str(no_weights))


def test_loads_a_hub_name_from_the_offline_cache(tmp_path):
    """``hf-hub:`` names resolve through the HF cache with HF_HUB_OFFLINE=1:
    open_clip's config and weights from one repository, the text tower's
    config and tokenizer from the one it names."""
    source = tmp_path / 'source'
    save_tiny_open_clip(str(source), text_model_name='tiny-org/tiny-bert')
    files = [p.name for p in source.iterdir()]
    cache = tmp_path / 'hub'
    add_to_hub_cache(
        str(cache), 'tiny-org/tiny-biomedclip', str(source),
        ['open_clip_config.json', 'open_clip_model.safetensors'])
    add_to_hub_cache(
        str(cache), 'tiny-org/tiny-bert', str(source),
        [name for name in files if not name.startswith('open_clip')])
    script = (
        'import torch, open_clip\n'
        'from safetensors.torch import load_file\n'
        'from mmvlsm.models import BiomedCLIPSeg\n'
        "m = BiomedCLIPSeg(pretrained='hf-hub:tiny-org/tiny-biomedclip')\n"
        f"saved = load_file('{source}/open_clip_model.safetensors')\n"
        'for k, v in m.text_model.state_dict().items():\n'
        "    assert torch.equal(v, saved['text.' + k]), k\n"
        "print(m.tokenizer('red circle')['input_ids'])\n")
    env = dict(
        os.environ,
        HF_HUB_CACHE=str(cache),
        HF_HUB_OFFLINE='1',
        PYTHONPATH=REPO)
    proc = subprocess.run([sys.executable, '-c', script],
                          env=env,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().startswith('[2, ')


def test_vit_stops_after_the_last_extracted_block(tiny_dir):
    model = BiomedCLIPSeg(pretrained=tiny_dir).eval()
    assert model.unused_modules == [
        'vision_model.blocks.11', 'vision_model.norm'
    ]
    calls = []
    for name in ('vision_model.blocks.10', 'vision_model.blocks.11',
                 'vision_model.norm'):
        model.get_submodule(name).register_forward_hook(
            lambda module, args, output, name=name: calls.append(name))
    with torch.no_grad():
        model._forward(torch.randn(1, 3, 224, 224), _samples(TEXTS[:1]))
    assert calls == ['vision_model.blocks.10']


def test_adapters_in_blocks_that_never_run_are_refused(tiny_dir):
    lora = dict(
        type='LoRA', target_modules=r'vision_model\.blocks\.11\.attn\.qkv')
    with pytest.raises(ValueError, match='never runs vision_model.blocks.11'):
        BiomedCLIPSeg(pretrained=tiny_dir, adapt_cfg=dict(adapters=[lora]))
