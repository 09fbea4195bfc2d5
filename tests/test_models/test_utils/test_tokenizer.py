# Copyright (c) OpenMMLab. All rights reserved.
import pytest

from mmvlsm.models.utils import build_tokenizer, openai_clip_tokenizer

CAT_IDS = [49406, 320, 1125, 539, 320, 2368, 49407]


@pytest.fixture(scope='module')
def clip_tokenizer():
    return build_tokenizer(dict(type='openai_bpe'))


def test_openai_bpe_known_ids(clip_tokenizer):
    assert len(clip_tokenizer) == 49408
    assert clip_tokenizer('a photo of a cat')['input_ids'] == CAT_IDS
    # Case and surrounding white space do not matter, as in OpenAI's CLIP.
    assert clip_tokenizer('  A Photo of a CAT ')['input_ids'] == CAT_IDS


def test_openai_bpe_padding_and_truncation(clip_tokenizer):
    tokens = clip_tokenizer(['a photo of a cat', 'cat'],
                            padding='longest',
                            truncation=True,
                            max_length=5,
                            return_tensors='pt')
    assert tokens['input_ids'].tolist() == [[49406, 320, 1125, 539, 49407],
                                            [49406, 2368, 49407, 49407, 49407]]
    assert tokens['attention_mask'].tolist() == [[1] * 5, [1, 1, 1, 0, 0]]


def test_build_tokenizer_variants(clip_tokenizer, tmp_path):
    clip_tokenizer.save_pretrained(tmp_path)
    for cfg in (str(tmp_path), dict(type='hf', name_or_path=str(tmp_path))):
        assert build_tokenizer(cfg)('a photo of a cat')['input_ids'] == \
            CAT_IDS
    assert build_tokenizer(clip_tokenizer) is clip_tokenizer
    assert openai_clip_tokenizer(model_max_length=20).model_max_length == 20


def test_build_tokenizer_errors(tmp_path):
    with pytest.raises(ValueError, match='Unknown tokenizer type'):
        build_tokenizer(dict(type='sentencepiece'))
    with pytest.raises(TypeError, match='tokenizer config'):
        build_tokenizer(3)
    with pytest.raises(FileNotFoundError, match='no-such-org/no-such-model'):
        build_tokenizer('no-such-org/no-such-model')
    with pytest.raises(OSError, match='local directory'):
        build_tokenizer(str(tmp_path))
