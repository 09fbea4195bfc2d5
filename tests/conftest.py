# Copyright (c) OpenMMLab. All rights reserved.
import os

# Tests never touch the network: every model and tokenizer they use is built
# and saved locally.
os.environ['HF_HUB_OFFLINE'] = '1'
os.environ['TRANSFORMERS_OFFLINE'] = '1'

# mmvlsm first: it puts its mmcv-lite fallbacks in place before any test
# imports mmseg's models.
import mmvlsm  # noqa: E402,F401
