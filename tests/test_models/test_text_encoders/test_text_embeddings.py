# Copyright (c) OpenMMLab. All rights reserved.
"""The text encoders against the source libraries' own models."""
import open_clip
import pytest
import torch
from transformers import BertModel, BertTokenizerFast

from mmvlsm.models.text_encoders import (bert_text_embeddings, encode_texts,
                                         masked_mean)
from mmvlsm.testing import save_tiny_bert, save_tiny_open_clip

# Of different lengths, so a batch of them is padded.
TEXTS = [
    'signet ring cell carcinoma', 'tubular', 'poorly differentiated solid'
]


@pytest.fixture(scope='module')
def tiny_bert(tmp_path_factory):
    return save_tiny_bert(str(tmp_path_factory.mktemp('bert')))


def test_masked_mean_leaves_padding_out():
    hidden = torch.tensor([[[1., 2.], [3., 4.], [100., 100.]]])
    mask = torch.tensor([[1, 1, 0]])
    torch.testing.assert_close(
        masked_mean(hidden, mask), torch.tensor([[2., 3.]]))


def test_mean_under_padding_matches_transformers(tiny_bert):
    tokenizer = BertTokenizerFast.from_pretrained(tiny_bert)
    model = BertModel.from_pretrained(tiny_bert).eval()
    tokens = tokenizer(TEXTS, padding=True, return_tensors='pt')
    mask = tokens['attention_mask']
    assert not mask.all()  # the batch is padded
    with torch.no_grad():
        hidden = model(**tokens).last_hidden_state
        alone = torch.stack([
            model(**tokenizer(
                text, return_tensors='pt')).last_hidden_state[0].mean(dim=0)
            for text in TEXTS
        ])
    by_hand = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    embeddings = bert_text_embeddings(TEXTS, tiny_bert, key='mean')
    torch.testing.assert_close(embeddings, by_hand)
    # Each text's embedding is the one it gets alone, not mixed with pads.
    torch.testing.assert_close(embeddings, alone)
    assert not torch.allclose(embeddings, hidden.mean(dim=1), atol=1e-3)


def test_bert_type_is_the_default_and_keys_are_checked(tiny_bert):
    torch.testing.assert_close(
        encode_texts(TEXTS, dict(model=tiny_bert, key='cls')),
        bert_text_embeddings(TEXTS, tiny_bert, key='cls'))
    with pytest.raises(ValueError, match="choose from .*'cls', 'mean'"):
        bert_text_embeddings(TEXTS, tiny_bert, key='last_hidden_state')


def test_open_clip_text_tower_matches_open_clip(tmp_path):
    # BiomedCLIP's kind of model (HF BERT text tower, CLS pooling, MLP
    # projection), tiny and random, in open_clip's own file layout.
    directory = str(tmp_path / 'biomedclip')
    reference = save_tiny_open_clip(
        directory, timm_model_name='test_vit', embed_dim=24)
    tokenizer = open_clip.get_tokenizer('local-dir:' + directory)
    with torch.no_grad():
        expected = reference.encode_text(tokenizer(TEXTS))
    embeddings = encode_texts(
        TEXTS, dict(type='open_clip', model='local-dir:' + directory))
    assert embeddings.shape == (3, 24)
    torch.testing.assert_close(embeddings, expected)


def test_missing_models_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='HF cache'):
        encode_texts(TEXTS,
                     dict(type='open_clip', model='hf-hub:nobody/nothing'))
    with pytest.raises(ValueError, match='is not an open_clip model'):
        encode_texts(TEXTS,
                     dict(type='open_clip', model=str(tmp_path / 'none')))
    with pytest.raises(FileNotFoundError, match='not a local directory'):
        encode_texts(TEXTS, dict(model=str(tmp_path / 'none')))
    with pytest.raises(ValueError, match='Unknown text_encoder type'):
        encode_texts(TEXTS, dict(type='gpt', model='x'))
