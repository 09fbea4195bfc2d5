# Copyright (c) OpenMMLab. All rights reserved.
"""The tiny CRIS config through the real tools, and the checkpoint
converter."""
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmvlsm.models.utils import mmvlsm_to_cris
from mmvlsm.registry import MODELS
from .conftest import (REPO, evaluate_checkpoint, free_port, load_tool,
                       refuses_to_replace_input, run_tool, tiny_run_options,
                       train_config)

TINY_CONFIG = f'{REPO}/configs/cris/cris-tiny_1xb16-40it_toy-shapes-128x128.py'
CONVERTER = 'tools/model_converters/cris2mmvlsm.py'


def test_tiny_cris_trains_and_tests(toy_root, tmp_path):
    options = tiny_run_options(toy_root, max_iters=2, interval=2)
    work_dir = tmp_path / 'work'
    log = train_config(TINY_CONFIG, work_dir, options)
    assert 'Iter(train) [2/2]' in log and 'loss_bce' in log
    assert 'mDice' in log
    metrics = evaluate_checkpoint(
        TINY_CONFIG,
        work_dir / 'iter_2.pth',
        tmp_path / 'test',
        options,
        out=tmp_path / 'masks')
    assert 0.0 <= metrics['mDice'] <= 100.0
    # One mask per test image, at the original (non-square) image size.
    masks = sorted((tmp_path / 'masks').glob('*.png'))
    assert len(masks) == 8
    import cv2
    image = cv2.imread(
        str(toy_root / 'images' / masks[0].name), cv2.IMREAD_UNCHANGED)
    mask = cv2.imread(str(masks[0]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == image.shape[:2] != (128, 128)


def test_tiny_cris_dist_train_two_processes_on_cpu(toy_root, tmp_path):
    work_dir = tmp_path / 'dist'
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1')
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    log = run_tool(
        [
            'bash', 'tools/dist_train.sh', TINY_CONFIG, '2', '--work-dir',
            str(work_dir)
        ] + tiny_run_options(toy_root, max_iters=2, interval=2),
        env=env)
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log
    assert (work_dir / 'iter_2.pth').is_file()


def _official_checkpoint(path, drop=None):
    """A tiny CRIS saved as CRIS.pytorch saves it: DataParallel keys in
    ``state_dict`` beside the training state."""
    init_default_scope('mmvlsm')
    model = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    official = mmvlsm_to_cris(model.state_dict())
    if drop is not None:
        del official[drop]
    torch.save(
        dict(
            epoch=50,
            best_iou=0.6,
            state_dict={
                f'module.{k}': v
                for k, v in official.items()
            },
            optimizer={}), path)
    return model


def test_converter_writes_a_checkpoint_the_tools_load(toy_root, tmp_path):
    src, dst = tmp_path / 'best_model.pth', tmp_path / 'converted.pth'
    model = _official_checkpoint(src)
    log = run_tool([
        sys.executable, CONVERTER,
        str(src),
        str(dst), '--config', TINY_CONFIG
    ])
    assert "unused: ['backbone.logit_scale']" in log
    converted = torch.load(dst, weights_only=True)['state_dict']
    expected = model.state_dict()
    assert sorted(converted) == sorted(expected)
    for key, value in expected.items():
        assert torch.equal(converted[key], value), key
    run_tool([
        sys.executable, 'tools/test.py', TINY_CONFIG,
        str(dst), '--work-dir',
        str(tmp_path / 'test')
    ] + tiny_run_options(toy_root))
    assert (tmp_path / 'test' / 'test_metrics.json').is_file()


def test_converter_names_missing_keys_and_writes_nothing(tmp_path):
    src, dst = tmp_path / 'partial.pth', tmp_path / 'converted.pth'
    _official_checkpoint(src, drop='neck.aggr.1.running_var')
    log = run_tool([
        sys.executable, CONVERTER,
        str(src),
        str(dst), '--config', TINY_CONFIG
    ],
                   expect_fail=True)
    assert 'neck.aggr.1.running_var' in log
    assert not dst.exists()


def test_converter_never_writes_over_its_input(tmp_path, capsys):
    main = load_tool(CONVERTER).main
    src = tmp_path / 'cris.pth'
    src.write_bytes(b'official weights')
    os.symlink(src, tmp_path / 'link.pth')
    message = refuses_to_replace_input(main, [src, src], src, capsys)
    assert (f'refusing to write the converted checkpoint (DST) to {src}: it '
            'would replace that input') in message
    for dst in (f'{tmp_path}/./cris.pth', tmp_path / 'link.pth'):
        message = refuses_to_replace_input(main, [src, dst], src, capsys)
        assert f'(DST) to {dst}: it would replace the input {src}' in message
