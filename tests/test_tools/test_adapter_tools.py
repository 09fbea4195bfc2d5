# Copyright (c) OpenMMLab. All rights reserved.
"""A tiny adapted CLIPSeg through the real tools: train, test, resume."""
import torch

from .conftest import (REPO, evaluate_checkpoint, tiny_run_options,
                       train_config)

TINY_CONFIG = (f'{REPO}/configs/vlsm_adapter/'
               'clipseg-tiny-dense-adapter-vlc_1xb16-40it_toy-shapes-'
               '128x128.py')


def test_tiny_adapted_model_trains_tests_and_resumes(toy_root, tmp_path,
                                                     untrained_checkpoint):
    # The host: the quickstart model's weights.
    options = tiny_run_options(
        toy_root, max_iters=2, interval=2) + [
            f'model.adapt_cfg.host_checkpoint={untrained_checkpoint}'
        ]
    work_dir = tmp_path / 'work'
    log = train_config(TINY_CONFIG, work_dir, options)
    assert 'Trainable parameters' in log and 'Iter(train) [2/2]' in log
    checkpoint = work_dir / 'iter_2.pth'
    state = torch.load(checkpoint, weights_only=False)['state_dict']
    # Adapters only: the host comes from the config's host_checkpoint.
    assert state and all('adapter' in key for key in state)
    assert checkpoint.stat(
    ).st_size < 0.3 * untrained_checkpoint.stat().st_size

    # The inference API puts the adapters on the host the config names:
    # every host weight is the host checkpoint's, every adapter the
    # trained one.
    from mmengine.config import Config

    from mmvlsm.apis import init_model
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.adapt_cfg.host_checkpoint = str(untrained_checkpoint)
    model = init_model(cfg, str(checkpoint))
    host = torch.load(untrained_checkpoint, weights_only=False)['state_dict']
    for name, param in model.named_parameters():
        expected = state[name] if param.requires_grad else host[name]
        assert torch.equal(param.detach(), expected), name

    metrics = evaluate_checkpoint(TINY_CONFIG, checkpoint, tmp_path / 'test',
                                  options)
    assert 0.0 <= metrics['mDice'] <= 100.0

    resume_options = [
        option.replace('train_cfg.max_iters=2', 'train_cfg.max_iters=4')
        for option in options
    ]
    log = train_config(
        TINY_CONFIG, work_dir, resume_options, extra=['--resume'])
    assert 'resumed' in log.lower() and 'Iter(train) [4/4]' in log
