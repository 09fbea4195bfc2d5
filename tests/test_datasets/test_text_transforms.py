# Copyright (c) OpenMMLab. All rights reserved.
import pickle

import numpy as np
import pytest
import torch

from mmvlsm.datasets.transforms import PackVLSMInputs, TokenizePrompt


def _results(text='a photo of a cat'):
    return dict(
        img=np.zeros((4, 4, 3), np.uint8),
        img_shape=(4, 4),
        ori_shape=(4, 4),
        text=text)


def test_tokenize_pads_to_context_length_and_truncates():
    step = TokenizePrompt(tokenizer=dict(type='openai_bpe'), context_length=6)
    out = step(_results())
    assert out['input_ids'].tolist() == [49406, 320, 1125, 539, 320, 49407]
    assert out['attention_mask'].tolist() == [1, 1, 1, 1, 1, 1]
    out = step(_results('cat'))
    assert out['input_ids'].tolist() == [49406, 2368, 49407] + [49407] * 3
    assert out['attention_mask'].tolist() == [1, 1, 1, 0, 0, 0]
    assert out['input_ids'].dtype == np.int64


def test_unbound_step_leaves_the_sample_to_the_model():
    out = TokenizePrompt()(_results())
    assert 'input_ids' not in out and 'attention_mask' not in out


def test_missing_text_names_the_image():
    step = TokenizePrompt(tokenizer=dict(type='openai_bpe'), context_length=6)
    results = _results(text=None)
    results['img_path'] = 'images/x.png'
    with pytest.raises(ValueError, match='images/x.png'):
        step(results)


def test_pickling_leaves_the_tokenizer_behind():
    step = TokenizePrompt(tokenizer=dict(type='openai_bpe'), context_length=6)
    expected = step(_results())['input_ids']
    copy = pickle.loads(pickle.dumps(step))
    assert copy._tokenizer is None
    assert np.array_equal(copy(_results())['input_ids'], expected)


def test_pack_puts_tokens_into_the_data_sample():
    step = TokenizePrompt(tokenizer=dict(type='openai_bpe'), context_length=6)
    packed = PackVLSMInputs()(step(_results()))
    sample = packed['data_samples']
    assert sample.metainfo['text'] == 'a photo of a cat'
    assert sample.input_ids.dtype == torch.int64
    assert sample.input_ids.tolist() == [49406, 320, 1125, 539, 320, 49407]
    assert sample.attention_mask.shape == (6, )
    assert packed['inputs'].shape == (3, 4, 4)
    # Without tokens, only the text travels.
    assert 'input_ids' not in PackVLSMInputs()(_results())['data_samples']
