# Copyright (c) OpenMMLab. All rights reserved.
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import CheckpointLoader

import mmvlsm  # noqa: F401  (registers the safe globals)


class _RunsCode:

    def __reduce__(self):
        return (os.system, ('echo pwned', ))


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path, monkeypatch):
    hub = MessageHub.get_instance('test_checkpoint')
    hub.update_scalar('train/loss', 0.5)
    hub.update_info('iter', 3)
    ckpt = dict(
        meta=dict(seed=42, iter=3, np_value=np.float64(1.5)),
        state_dict=dict(w=torch.ones(2)),
        message_hub=hub.state_dict(),
        extra=np.arange(3))
    path = tmp_path / 'iter_3.pth'
    torch.save(ckpt, path)
    # As in a fresh process, where no HistoryBuffer has registered the
    # built-in statistics yet.
    monkeypatch.setattr(HistoryBuffer, '_statistics_methods', {})
    # Plain torch.load (weights_only=True by default since torch 2.6) and
    # mmengine's loader both read it.
    loaded = torch.load(path)
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'],
                      HistoryBuffer)
    assert loaded['meta']['np_value'] == 1.5
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    torch.testing.assert_close(loaded['state_dict']['w'], torch.ones(2))
    np.testing.assert_array_equal(loaded['extra'], np.arange(3))


def test_untrusted_checkpoint_cannot_run_code(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': _RunsCode()}, path)
    with pytest.raises(pickle.UnpicklingError, match='system'):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


class _WalksAttributes:
    """Pickles as getattr(HistoryBuffer, '__init__'): not a statistic."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_only_history_buffer_statistics_getattr_is_allowed(tmp_path):
    path = tmp_path / 'walk.pth'
    torch.save({'payload': _WalksAttributes()}, path)
    with pytest.raises(pickle.UnpicklingError, match='__init__'):
        torch.load(path)
