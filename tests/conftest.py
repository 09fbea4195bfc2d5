# Copyright (c) OpenMMLab. All rights reserved.
import os

import pytest

# Tests never touch the network: every model and tokenizer they use is built
# and saved locally.
os.environ['HF_HUB_OFFLINE'] = '1'
os.environ['TRANSFORMERS_OFFLINE'] = '1'

# mmvlsm first: it puts its mmcv-lite fallbacks in place before any test
# imports mmseg's models.
import mmvlsm  # noqa: E402,F401


@pytest.fixture(scope='session', autouse=True)
def mmvlsm_cache(tmp_path_factory):
    """mmvlsm's caches (class-name embeddings) in a folder of the session,
    for the tools the tests run too: the suite never writes to the home
    directory."""
    previous = os.environ.get('MMVLSM_CACHE')
    path = tmp_path_factory.mktemp('mmvlsm_cache')
    os.environ['MMVLSM_CACHE'] = str(path)
    yield path
    if previous is None:
        del os.environ['MMVLSM_CACHE']
    else:
        os.environ['MMVLSM_CACHE'] = previous
