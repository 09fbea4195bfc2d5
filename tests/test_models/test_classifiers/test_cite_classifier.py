# Copyright (c) OpenMMLab. All rights reserved.
"""CITEClassifier fills in the widths CITE's models imply, and checks the
ones a config sets."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmvlsm.models.classifiers import CITEClassifier, WidthMismatchError
from mmvlsm.registry.classification import MODELS
from mmvlsm.testing import save_tiny_bert

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TEXTS = ['well differentiated', 'moderately differentiated', 'poorly']


@pytest.fixture(autouse=True)
def classification_scope():
    with DefaultScope.overwrite_default_scope('mmvlsm_cls'):
        yield


@pytest.fixture(scope='module')
def tiny_bert(tmp_path_factory):
    """A BERT of width 24."""
    return save_tiny_bert(str(tmp_path_factory.mktemp('bert')), hidden_size=24)


def tiny_vit(**kwargs):
    """A 2-layer PromptedViT of width 32, projected to 16 by default."""
    cfg = dict(
        type='PromptedViT',
        arch=dict(
            embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=32,
        patch_size=8,
        pre_norm=True,
        prompt_init='token',
        proj=True,
        proj_channels=16)
    cfg.update(kwargs)
    return cfg


def cite(tiny_bert, neck=None, head=None, **kwargs):
    return dict(
        type='CITEClassifier',
        backbone=tiny_vit(**kwargs),
        neck=dict(type='ProjectionNeck', **(neck or {})),
        head=dict(
            type='TextEmbeddingHead',
            texts=TEXTS,
            text_encoder=dict(model=tiny_bert, key='cls'),
            **(head or {})))


def test_widths_are_filled_in(tiny_bert):
    model = MODELS.build(cite(tiny_bert))
    assert isinstance(model, CITEClassifier)
    assert model.backbone.feature_channels == 16
    assert model.neck.fc.weight.shape == (24, 16)
    assert model.head.in_channels == 24 == model.head.text_channels
    model.train()
    samples = [DataSample().set_gt_label(0), DataSample().set_gt_label(2)]
    model(torch.randn(2, 3, 32, 32), samples, mode='loss')['loss'].backward()
    assert model.neck.fc.weight.grad is not None
    # Without CLIP's projection the feature is the ViT's class token.
    model = MODELS.build(cite(tiny_bert, proj=False))
    assert model.neck.fc.weight.shape == (24, 32)
    # Widths that agree are kept.
    model = MODELS.build(
        cite(tiny_bert, dict(in_channels=16, out_channels=24),
             dict(in_channels=24)))
    assert model.neck.fc.weight.shape == (24, 16)


@pytest.mark.parametrize('neck, head, field, widths', [
    (dict(in_channels=512), None, 'model.neck.in_channels', (512, 16)),
    (dict(out_channels=1024), None, 'model.neck.out_channels', (1024, 24)),
    (None, dict(in_channels=1024), 'model.head.in_channels', (1024, 24)),
])
def test_disagreeing_widths_are_errors(tiny_bert, neck, head, field, widths):
    with pytest.raises(WidthMismatchError) as error:
        MODELS.build(cite(tiny_bert, neck, head))
    message = str(error.value)
    assert field in message
    assert all(str(width) in message for width in widths)
    assert isinstance(error.value, ValueError)


def test_without_neck_text_width_must_be_the_feature_width(tiny_bert):
    cfg = cite(tiny_bert)
    cfg['neck'] = None
    with pytest.raises(WidthMismatchError, match='add a ProjectionNeck'):
        MODELS.build(cfg)
    # Zero-shot: a feature as wide as the text embeddings needs no neck.
    model = MODELS.build(dict(cfg, backbone=tiny_vit(proj_channels=24)))
    assert model.neck is None and model.head.in_channels == 24


def test_linear_probe_head_takes_the_backbone_width():
    head = dict(type='LinearClsHead', num_classes=3)
    model = MODELS.build(
        dict(type='CITEClassifier', backbone=tiny_vit(), head=head))
    assert model.head.fc.weight.shape == (3, 16)
    with pytest.raises(WidthMismatchError, match='model.head.in_channels'):
        MODELS.build(
            dict(
                type='CITEClassifier',
                backbone=tiny_vit(),
                head=dict(head, in_channels=512)))


def test_backbone_without_feature_channels_needs_explicit_widths():
    # mmpretrain's LeNet5 does not say how wide its feature is.
    cfg = dict(
        type='CITEClassifier',
        backbone=dict(type='LeNet5'),
        neck=dict(type='ProjectionNeck', out_channels=8),
        head=dict(type='LinearClsHead', num_classes=3))
    with pytest.raises(ValueError, match='model.neck.in_channels is not set'):
        MODELS.build(cfg)
    cfg['neck']['in_channels'] = 84
    model = MODELS.build(cfg)
    # The head after the neck still gets the neck's width.
    assert model.head.fc.weight.shape == (3, 8)


# Per CITE config: the width of its text embeddings (None for a linear
# head) and the widths it set before CITEClassifier filled them in: the
# neck's (in, out) and the head's in_channels.
CONFIG_WIDTHS = {
    'cite-tiny-minilm_1xb24-150it_toy-patches-32x32.py': (384, (32, 384), 384),
    'linear-probe_clip-vit-b16_1xb128-1000it_patchgastric-cls3.py':
    (None, None, 512),
    'vpt_clip-vit-b16_1xb128-1000it_patchgastric-cls3.py': (None, None, 512),
    'finetune_clip-vit-b16_1xb128-1000it_patchgastric-cls3.py':
    (None, None, 512),
    'zero-shot_clip-vit-b16_patchgastric-cls3.py': (512, None, 512),
}
for shots in ('', '-1shot', '-2shot', '-4shot', '-8shot', '-16shot'):
    CONFIG_WIDTHS['cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_'
                  f'patchgastric-cls3{shots}.py'] = (1024, (512, 1024), 1024)
# The image encoders' configs: their feature widths.
ENCODERS = {
    'vit-b16-in21k': 768,
    'mae-vit-b16': 768,
    'mae-vit-l16': 1024,
    'retfound-mae-vit-l16': 1024,
    'hipt-vit-s16': 384,
    'dinov2-vit-s14': 768,
    'dinov2-vit-b14': 1536,
    'phikon-vit-b16': 768,
}
for name, width in ENCODERS.items():
    CONFIG_WIDTHS[f'cite_{name}-biolinkbert-l_2xb64-1000it_patchgastric-cls3'
                  '.py'] = (1024, (width, 1024), 1024)
# CITE's text head on CNN and Swin encoders, frozen or fine-tuned.
for name, width in (('resnet50', 2048), ('ctranspath', 768)):
    for mode in ('linear-probe', 'finetune'):
        CONFIG_WIDTHS[f'{mode}-text_{name}-biolinkbert-l_1xb128-1000it_'
                      'patchgastric-cls3.py'] = (1024, (width, 1024), 1024)
# The text models' configs: their hidden (BiomedCLIP: projection) sizes.
TEXT_MODELS = {
    'pubmedbert':
    ('microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext', 'cls',
     768),
    'biolinkbert-b': ('michiyasunaga/BioLinkBERT-base', 'pooler_output', 768),
    'clinicalbert': ('emilyalsentzer/Bio_ClinicalBERT', 'pooler_output', 768),
    'minilm': ('sentence-transformers/all-MiniLM-L6-v2', 'mean', 384),
    'biomedclip-text':
    ('hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224', None,
     512),
}
for name, (_, _, width) in TEXT_MODELS.items():
    CONFIG_WIDTHS[f'cite_clip-vit-b16-{name}_2xb64-1000it_patchgastric-cls3'
                  '.py'] = (width, (512, width), width)


def test_every_cite_config_is_listed():
    configs = glob.glob(osp.join(REPO, 'configs', 'cite', '*.py'))
    assert sorted(map(osp.basename, configs)) == sorted(CONFIG_WIDTHS)


def _shapes(cfg):
    # ViTs on the meta device: shapes without ViT-B's 86M random numbers
    # (mmpretrain's ResNet and Swin read values while they are built).
    device = 'meta' if cfg['backbone']['type'] == 'PromptedViT' else 'cpu'
    with torch.device(device):
        model = MODELS.build(cfg)
    return {name: tuple(p.shape) for name, p in model.state_dict().items()}


@pytest.mark.parametrize('name', CONFIG_WIDTHS)
def test_configs_build_the_model_their_widths_gave(name, tmp_path):
    text_width, neck, head_width = CONFIG_WIDTHS[name]
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'cite', name)).model
    assert cfg.type == 'CITEClassifier'
    cfg.backbone.pretrained = None
    if text_width is not None:
        path = str(tmp_path / 'texts.pth')
        torch.save(torch.randn(3, text_width), path)
        cfg.head.text_encoder = None
        cfg.head.text_embeddings_file = path
    explicit = copy.deepcopy(cfg.to_dict())
    explicit['type'] = 'ImageClassifier'
    if neck is not None:
        explicit['neck'].update(in_channels=neck[0], out_channels=neck[1])
    explicit['head']['in_channels'] = head_width
    assert _shapes(cfg.to_dict()) == _shapes(explicit)


@pytest.mark.parametrize('name', TEXT_MODELS)
def test_text_model_configs_change_only_the_text_encoder(name):
    main = Config.fromfile(
        osp.join(
            REPO, 'configs', 'cite', 'cite_clip-vit-b16-biolinkbert-l_'
            '2xb64-1000it_patchgastric-cls3.py'))
    cfg = Config.fromfile(
        osp.join(
            REPO, 'configs', 'cite',
            f'cite_clip-vit-b16-{name}_2xb64-1000it_patchgastric-cls3.py'))
    model, key, _ = TEXT_MODELS[name]
    if key is None:
        expected = dict(type='open_clip', model=model)
    else:
        expected = dict(type='bert', model=model, key=key)
    assert cfg.model.head.text_encoder.to_dict() == expected
    cfg.model.head.text_encoder = main.model.head.text_encoder
    assert cfg.to_dict() == main.to_dict()
