# Copyright (c) OpenMMLab. All rights reserved.
"""The class-name embedding cache: hits, keys, recovery."""
import os
import shutil

import pytest
import torch
from huggingface_hub import constants
from mmengine.registry import DefaultScope

from mmvlsm.models.heads import TextEmbeddingHead
from mmvlsm.models.text_encoders import (TEXT_ENCODERS, TextEncoder, cache_dir,
                                         cache_file)
from mmvlsm.testing import save_tiny_bert

TEXTS = ['well differentiated', 'poorly differentiated']


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    """A cache of this test alone, in the classification scope."""
    monkeypatch.setenv('MMVLSM_CACHE', str(tmp_path / 'cache'))
    with DefaultScope.overwrite_default_scope('mmvlsm_cls'):
        yield


@pytest.fixture(scope='module')
def tiny_bert(tmp_path_factory):
    return save_tiny_bert(str(tmp_path_factory.mktemp('bert')))


@pytest.fixture
def bert_calls(monkeypatch):
    """The texts each call of the BERT encoder embedded."""
    calls = []
    embed = TEXT_ENCODERS['bert'].embed

    def counted(texts, **options):
        calls.append(list(texts))
        return embed(texts, **options)

    monkeypatch.setitem(TEXT_ENCODERS, 'bert', TextEncoder(counted, 'model'))
    return calls


def build(tiny_bert, **kwargs):
    return TextEmbeddingHead(
        texts=TEXTS, text_encoder=dict(model=tiny_bert, key='cls'), **kwargs)


def test_second_build_does_not_run_the_model(tiny_bert, bert_calls):
    first = build(tiny_bert)
    assert len(bert_calls) == 1
    entry = cache_file(TEXTS, '{}', dict(model=tiny_bert, key='cls'))
    # Only the entry: the partial file was renamed onto it.
    assert os.listdir(cache_dir()) == [os.path.basename(entry)]
    second = build(tiny_bert)
    assert len(bert_calls) == 1
    torch.testing.assert_close(second.text_embeddings, first.text_embeddings)
    build(tiny_bert, cache=False)
    assert len(bert_calls) == 2


def test_model_loading_leaves_the_global_generator_alone(tmp_path):
    # transformers draws the pooler this checkpoint lacks at random; the
    # neck built after the head must start from the same random state
    # whether the embeddings came from the model or from the cache.
    no_pooler = save_tiny_bert(str(tmp_path / 'bert'), pooler=False)
    state = torch.get_rng_state()
    build(no_pooler)
    assert torch.equal(torch.get_rng_state(), state)


def test_key_follows_what_the_embeddings_depend_on(tiny_bert, tmp_path):
    bert = dict(model=tiny_bert, key='cls')
    key = cache_file(TEXTS, '{}', bert)
    assert key.startswith(cache_dir()) and key.endswith('.pth')
    other_weights = save_tiny_bert(str(tmp_path / 'other'), seed=1)
    copy = shutil.copytree(tiny_bert, str(tmp_path / 'copy'))
    changed = [
        cache_file(TEXTS[:1], '{}', bert),
        cache_file(TEXTS, 'an image of {}', bert),
        cache_file(TEXTS, '{}', dict(model=tiny_bert, key='mean')),
        cache_file(TEXTS, '{}', dict(model=other_weights, key='cls')),
        cache_file(TEXTS, '{}', dict(type='open_clip', model=tiny_bert)),
    ]
    assert len(set(changed + [key])) == len(changed) + 1
    # Content, not location: a copy of the model shares the entries.
    assert cache_file(TEXTS, '{}', dict(model=copy, key='cls')) == key
    assert cache_file(TEXTS, '{}', dict(type='bert', **bert)) == key


def test_hub_models_are_keyed_by_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(tmp_path / 'hub'))
    bert = dict(model='org/bert', key='pooler_output')
    # Not downloaded yet: no key (the entry is written after the download).
    assert cache_file(TEXTS, '{}', bert) is None
    ref = tmp_path / 'hub' / 'models--org--bert' / 'refs' / 'main'
    ref.parent.mkdir(parents=True)
    ref.write_text('a' * 40)
    first = cache_file(TEXTS, '{}', bert)
    open_clip = dict(type='open_clip', model='hf-hub:org/bert')
    assert first and cache_file(TEXTS, '{}', open_clip) not in (None, first)
    ref.write_text('b' * 40)
    assert cache_file(TEXTS, '{}', bert) not in (None, first)


@pytest.mark.parametrize('content', [b'not a torch file', 'wrong shape'])
def test_corrupt_entry_is_recomputed(tiny_bert, bert_calls, content):
    expected = build(tiny_bert).text_embeddings
    entry = cache_file(TEXTS, '{}', dict(model=tiny_bert, key='cls'))
    if content == 'wrong shape':
        torch.save(torch.zeros(5, 16), entry)
    else:
        with open(entry, 'wb') as f:
            f.write(content)
    with pytest.warns(UserWarning, match='corrupt text embedding cache'):
        head = build(tiny_bert)
    assert len(bert_calls) == 2
    torch.testing.assert_close(head.text_embeddings, expected)
    # Rewritten: the next build reads it again.
    build(tiny_bert)
    assert len(bert_calls) == 2


def test_unwritable_cache_still_builds(tiny_bert, tmp_path, monkeypatch):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    monkeypatch.setenv('MMVLSM_CACHE', str(blocker))  # not a folder
    with pytest.warns(UserWarning, match='Could not write'):
        head = build(tiny_bert)
    assert head.text_embeddings.shape == (2, 16)
