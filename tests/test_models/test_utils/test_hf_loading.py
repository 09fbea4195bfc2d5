# Copyright (c) OpenMMLab. All rights reserved.
import pytest
from huggingface_hub import constants
from transformers import CLIPSegForImageSegmentation

from mmvlsm.models.utils import hf_from_pretrained, hf_loading_errors


def test_missing_hub_name_offline():
    # tests/conftest.py sets HF_HUB_OFFLINE=1.
    with pytest.raises(FileNotFoundError) as info:
        hf_from_pretrained(CLIPSegForImageSegmentation,
                           'no-such-org/clipseg-missing')
    message = str(info.value)
    for part in ('CLIPSegForImageSegmentation', 'no-such-org/clipseg-missing',
                 'HF_HUB_OFFLINE=1', 'hf download no-such-org/clipseg-missing',
                 constants.HF_HUB_CACHE, 'save_pretrained'):
        assert part in message
    assert isinstance(info.value.__cause__, OSError)


def test_missing_local_path(tmp_path):
    missing = str(tmp_path / 'not-there')
    with pytest.raises(FileNotFoundError, match='not a local directory'):
        hf_from_pretrained(CLIPSegForImageSegmentation, missing)


def test_local_directory_without_weights(tmp_path):
    with pytest.raises(OSError, match='from the local directory') as info:
        hf_from_pretrained(CLIPSegForImageSegmentation, str(tmp_path))
    assert not isinstance(info.value, FileNotFoundError)


def test_guard_passes_other_errors_through():
    with pytest.raises(KeyError):
        with hf_loading_errors('any/name', 'model'):
            raise KeyError('not a loading error')
