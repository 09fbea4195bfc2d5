# Copyright (c) OpenMMLab. All rights reserved.
import argparse
import os
import pickle
import re

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
    with pytest.raises(
            pickle.UnpicklingError,
            match=f'{re.escape(str(path))} was refused .* holds '
            'getattr.*__init__'):
        CheckpointLoader.load_checkpoint(str(path))


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'not a checkpoint'])
def test_unreadable_checkpoint_names_the_file(tmp_path, damage):
    path = tmp_path / 'iter_4.pth'
    torch.save({'state_dict': dict(w=torch.ones(100))}, path)
    data = path.read_bytes()
    path.write_bytes({
        'truncated': data[:len(data) // 2],
        'empty': b'',
        'not a checkpoint': b'{"state_dict": {}}'
    }[damage])
    with pytest.raises(
            ValueError,
            match=f'could not read checkpoint {re.escape(str(path))}: the '
            'file is truncated, corrupt or not a PyTorch checkpoint'):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


def test_refused_checkpoint_names_file_type_and_remedy(tmp_path):
    path = tmp_path / 'with_args.pth'
    torch.save({'state_dict': {}, 'args': argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(pickle.UnpicklingError) as err:
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    msg = str(err.value)
    assert msg.startswith(f'checkpoint {path} was refused')
    assert 'add_safe_globals([argparse.Namespace])' in msg
    # Following the advice loads it.
    with torch.serialization.safe_globals([argparse.Namespace]):
        loaded = CheckpointLoader.load_checkpoint(str(path))
    assert loaded['args'].lr == 0.1
