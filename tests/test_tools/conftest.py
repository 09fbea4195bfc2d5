# Copyright (c) OpenMMLab. All rights reserved.
import importlib.util
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
QUICKSTART_CONFIG = osp.join(REPO, 'configs', 'quickstart',
                             'clipseg-tiny_1xb16-650it_toy-shapes-128x128.py')


def run_tool(args, timeout=600, cwd=REPO, env=None, expect_fail=False):
    """Run a command, failing the test with its output if it fails.

    The repository goes first on PYTHONPATH, as tools/dist_train.sh does, so
    the tools run this checkout's code.
    """
    env = dict(os.environ if env is None else env)
    env.update(
        HF_HUB_OFFLINE='1',
        PYTHONUNBUFFERED='1',
        PYTHONPATH=os.pathsep.join(
            p for p in (REPO, env.get('PYTHONPATH')) if p))
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # The tools print UTF-8 (±, µ) whatever the locale says.
        encoding='utf-8',
        errors='replace',
        timeout=timeout)
    if (proc.returncode != 0) != expect_fail:
        pytest.fail(f'{" ".join(map(str, args))} exited with '
                    f'{proc.returncode}:\n{proc.stdout[-6000:]}')
    return proc.stdout


def load_tool(path):
    """A tool (``tools/...py``, relative to the repository) as a module, to
    call its functions or ``main(argv)`` in this process."""
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0], osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def refuses_to_replace_input(main, argv, input_file, capsys):
    """Run a tool's ``main(argv)`` that must exit, without a traceback, on
    an output that is ``input_file``; return its error message."""
    before = input_file.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        main([str(arg) for arg in argv])
    assert exit_info.value.code not in (0, None)
    message = capsys.readouterr().err + (
        exit_info.value.code if isinstance(exit_info.value.code, str) else '')
    assert 'refusing to write' in message and 'would replace' in message
    assert input_file.read_bytes() == before
    return message


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory):
    """A small toy dataset written by the real generator."""
    root = tmp_path_factory.mktemp('toy_shapes')
    run_tool([
        sys.executable, 'tools/misc/generate_toy_dataset.py', '--out-dir',
        str(root), '--num-train', '24', '--num-val', '8', '--num-test', '8'
    ])
    return root


@pytest.fixture(scope='session')
def untrained_checkpoint(tmp_path_factory):
    """Weights of the quickstart model as built, saved as a checkpoint."""
    from mmengine.runner import save_checkpoint

    from mmvlsm.apis import init_model
    path = tmp_path_factory.mktemp('ckpt') / 'untrained.pth'
    save_checkpoint({'state_dict': init_model(QUICKSTART_CONFIG).state_dict()},
                    str(path))
    return path


def tiny_run_options(data_root, max_iters=4, interval=2):
    """--cfg-options that shrink the quickstart config to a few CPU steps."""
    options = [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        'train_dataloader.batch_size=4',
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={interval}',
        f'default_hooks.checkpoint.interval={interval}',
        'default_hooks.logger.interval=1',
    ]
    for loader in ('train', 'val', 'test'):
        options += [
            f'{loader}_dataloader.num_workers=0',
            f'{loader}_dataloader.persistent_workers=False'
        ]
    return ['--cfg-options'] + options


def train_config(config, work_dir, options, extra=()):
    """Run tools/train.py on ``config``; return its output."""
    return run_tool([
        sys.executable, 'tools/train.py', config, '--work-dir',
        str(work_dir), *extra
    ] + options)


def evaluate_checkpoint(config,
                        checkpoint,
                        work_dir,
                        options,
                        out=None,
                        extra=()):
    """Run tools/test.py; return the metrics it wrote."""
    extra = list(extra) + (['--out', str(out)] if out is not None else [])
    run_tool([
        sys.executable, 'tools/test.py', config,
        str(checkpoint), '--work-dir',
        str(work_dir), *extra
    ] + options)
    return json.loads((work_dir / 'test_metrics.json').read_text())
