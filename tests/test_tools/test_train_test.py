# Copyright (c) OpenMMLab. All rights reserved.
"""End-to-end runs of the quickstart config through the real tools."""
import csv
import json
import os
import os.path as osp
import shutil
import sys

import cv2
import torch

from .conftest import (QUICKSTART_CONFIG, free_port, run_tool,
                       tiny_run_options)


def _load(path):
    # The mmengine checkpoint must load with torch's default weights_only.
    import mmvlsm  # noqa: F401
    return torch.load(path, map_location='cpu')


def test_train_interrupt_resume_then_test(toy_root, tmp_path):
    work_dir = tmp_path / 'work'
    train = [
        sys.executable, 'tools/train.py', QUICKSTART_CONFIG, '--work-dir',
        str(work_dir)
    ]
    run_tool(train + tiny_run_options(toy_root, max_iters=4, interval=2))
    full = _load(work_dir / 'iter_4.pth')
    assert full['meta']['iter'] == 4

    # Interrupt after iteration 2: the last checkpoint is iter_2.pth.
    os.remove(work_dir / 'iter_4.pth')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_2.pth'))
    log = run_tool(train + ['--resume'] +
                   tiny_run_options(toy_root, max_iters=4, interval=2))
    assert 'resumed' in log.lower() and 'iter_2.pth' in log
    resumed = _load(work_dir / 'iter_4.pth')
    assert resumed['meta']['iter'] == 4
    # The optimizer and scheduler continued from iteration 2 rather than
    # starting over: AdamW counted 4 steps, the scheduler saw 4 iterations.
    steps = [s['step'] for s in resumed['optimizer']['state'].values()]
    assert steps and all(int(step) == 4 for step in steps)
    assert [s['last_step'] for s in resumed['param_schedulers']] == \
        [s['last_step'] for s in full['param_schedulers']]

    # Resuming from a named checkpoint into another work dir.
    other_dir = tmp_path / 'work_from_named_ckpt'
    log = run_tool([
        sys.executable, 'tools/train.py', QUICKSTART_CONFIG, '--work-dir',
        str(other_dir), '--resume',
        str(work_dir / 'iter_2.pth')
    ] + tiny_run_options(toy_root, max_iters=4, interval=2))
    assert 'iter_2.pth' in log and not (other_dir / 'iter_2.pth').exists()
    assert _load(other_dir / 'iter_4.pth')['meta']['iter'] == 4

    out_dir, show_dir = tmp_path / 'masks', tmp_path / 'overlays'
    run_tool([
        sys.executable, 'tools/test.py', QUICKSTART_CONFIG,
        str(work_dir / 'iter_4.pth'), '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(out_dir), '--show-dir',
        str(show_dir)
    ] + tiny_run_options(toy_root))
    metrics = json.loads((tmp_path / 'test' / 'test_metrics.json').read_text())
    for key in ('mDice', 'mIoU', 'gDice', 'gIoU'):
        assert 0.0 <= metrics[key] <= 100.0
    with open(toy_root / 'anns' / 'test.json') as f:
        records = json.load(f)
    for record in records:
        stem = osp.splitext(record['mask_name'])[0]
        mask = cv2.imread(str(out_dir / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        gt = cv2.imread(
            str(toy_root / 'masks' / record['mask_name']),
            cv2.IMREAD_UNCHANGED)
        assert mask is not None and mask.shape == gt.shape[:2]
        assert set(mask.ravel().tolist()) <= {0, 255}
        assert (show_dir / f'{stem}.png').is_file()

    # The same evaluation split over two processes gathers every image.
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1')
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    run_tool(
        [
            'bash', 'tools/dist_test.sh', QUICKSTART_CONFIG,
            str(work_dir / 'iter_4.pth'), '2', '--work-dir',
            str(tmp_path / 'dist_test'), '--out',
            str(tmp_path / 'dist_masks')
        ] + tiny_run_options(toy_root),
        env=env)
    dist_metrics = json.loads(
        (tmp_path / 'dist_test' / 'test_metrics.json').read_text())
    assert dist_metrics['mDice'] == metrics['mDice']
    rows = (tmp_path / 'dist_masks' /
            'per_image_metrics.csv').read_text().splitlines()
    assert len(rows) == 1 + len(records)


def test_checkpoint_of_another_model_is_refused(toy_root, tmp_path):
    import mmvlsm  # noqa: F401
    from mmvlsm.apis import init_model
    state = init_model(QUICKSTART_CONFIG).state_dict()
    other = {k.replace('decoder.', 'head.'): v for k, v in state.items()}
    ckpt = tmp_path / 'other_model.pth'
    torch.save({'state_dict': other}, ckpt)
    log = run_tool(
        [
            sys.executable, 'tools/test.py', QUICKSTART_CONFIG,
            str(ckpt), '--work-dir',
            str(tmp_path / 'test')
        ] + tiny_run_options(toy_root),
        expect_fail=True)
    assert f'checkpoint {ckpt} does not match the model' in log
    assert 'missing keys in source state_dict: decoder.' in log
    assert not (tmp_path / 'test' / 'test_metrics.json').exists()


def test_dist_train_two_processes_on_cpu(toy_root, tmp_path):
    work_dir, rank_logs = tmp_path / 'dist', tmp_path / 'rank_logs'
    # torchrun reads its options from PET_* variables too: keep each rank's
    # output in a file of its own.
    env = dict(
        os.environ,
        PORT=str(free_port()),
        OMP_NUM_THREADS='1',
        PET_LOG_DIR=str(rank_logs),
        PET_TEE='3')
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    log = run_tool(
        [
            'bash', 'tools/dist_train.sh', QUICKSTART_CONFIG, '2',
            '--work-dir',
            str(work_dir)
        ] + tiny_run_options(toy_root, max_iters=2, interval=2),
        env=env)
    # mmengine reports the world size as "GPU number", also on CPU.
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log
    assert "model_wrapper_cfg = dict(device_ids=None, type='MMDistributedDataParallel')" in log  # noqa: E501
    assert _load(work_dir / 'iter_2.pth')['meta']['iter'] == 2
    # Both ranks ran to the end (DDP synchronises every step, so neither
    # could have finished alone) and each left its own output.
    for rank in (0, 1):
        (rank_dir, ) = rank_logs.glob(f'*/attempt_0/{rank}')
        assert {p.name
                for p in rank_dir.iterdir()} >= {'stdout.log', 'stderr.log'}
        assert 'Traceback' not in (rank_dir / 'stderr.log').read_text()
    assert '[default1]:' in log
    (rank0_out, ) = rank_logs.glob('*/attempt_0/0/stdout.log')
    assert 'Iter(train) [2/2]' in rank0_out.read_text()


def test_mim_train_and_test_find_the_tools(toy_root, tmp_path):
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    work_dir = tmp_path / 'mim'
    run_tool(
        [
            mim, 'train', 'mmvlsm', QUICKSTART_CONFIG, '--work-dir',
            str(work_dir)
        ] + tiny_run_options(toy_root, max_iters=2, interval=2),
        cwd=str(tmp_path))
    assert (work_dir / 'iter_2.pth').is_file()
    run_tool(
        [
            mim, 'test', 'mmvlsm', QUICKSTART_CONFIG, '--checkpoint',
            str(work_dir / 'iter_2.pth'), '--work-dir',
            str(tmp_path / 'mim_test')
        ] + tiny_run_options(toy_root),
        cwd=str(tmp_path))
    assert (tmp_path / 'mim_test' / 'test_metrics.json').is_file()


def _files(root):
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob('*') if p.is_file()
    }


def test_test_outputs_stay_inside_and_apart(toy_root, untrained_checkpoint,
                                            tmp_path):
    """Mask names that are absolute, climb out with '..', share a base name
    in two sub-folders, or repeat under two prompts."""
    data = tmp_path / 'data'
    shutil.copytree(toy_root / 'images', data / 'images')
    shutil.copytree(toy_root / 'masks', data / 'masks')
    for sub, src in (('a', 'test_0002.png'), ('b', 'test_0003.png')):
        (data / 'masks' / sub).mkdir()
        shutil.copy(data / 'masks' / src, data / 'masks' / sub / 'x.png')
    records = json.loads((toy_root / 'anns' / 'test.json').read_text())[:5]
    records[0]['mask_name'] = str(data / 'masks' / 'test_0000.png')
    records[1]['mask_name'] = '../masks/test_0001.png'
    records[2]['mask_name'] = 'a/x.png'
    records[3]['mask_name'] = 'b/x.png'
    other_prompt = dict(records[4], prompts=dict(records[4]['prompts']))
    other_prompt['prompts']['p2'] = 'another shape'
    records.append(other_prompt)
    (data / 'anns').mkdir()
    (data / 'anns' / 'test.json').write_text(json.dumps(records))
    before = _files(data)

    out_dir, show_dir = tmp_path / 'out', tmp_path / 'show'
    log = run_tool([
        sys.executable, 'tools/test.py', QUICKSTART_CONFIG,
        str(untrained_checkpoint), '--work-dir',
        str(tmp_path / 'work'), '--out',
        str(out_dir), '--show-dir',
        str(show_dir), '--quiet'
    ] + tiny_run_options(data))

    # Nothing in the data changed; every file went to out/, show/, work/.
    assert _files(data) == before
    assert {p.name
            for p in tmp_path.iterdir()} == {'data', 'out', 'show', 'work'}
    expected = [
        '_outside/' + str(data / 'masks' / 'test_0000.png').lstrip('/'),
        '_outside/masks/test_0001.png',
        'a/x.png',
        'b/x.png',
        # Same prompt key: numbered in the order of the prompt texts.
        'test_0004_2.png',
        'test_0004_1.png'
    ]
    with open(out_dir / 'per_image_metrics.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [row['mask_name']
            for row in rows] == [r['mask_name'] for r in records]
    assert [row['output_file'] for row in rows] == expected
    assert sorted(_files(out_dir)) == sorted(expected +
                                             ['per_image_metrics.csv'])
    assert sorted(_files(show_dir)) == sorted(expected)
    assert 'mask names point outside' in log

    # --quiet: no environment and config dump, the metric table is there.
    assert 'System environment' not in log and 'Config:' not in log
    assert 'per-image mean' in log and 'mDice' in log


def test_unreadable_checkpoint_is_not_a_mismatch(toy_root,
                                                 untrained_checkpoint,
                                                 tmp_path):
    ckpt = tmp_path / 'truncated.pth'
    data = untrained_checkpoint.read_bytes()
    ckpt.write_bytes(data[:len(data) // 2])
    log = run_tool(
        [
            sys.executable, 'tools/test.py', QUICKSTART_CONFIG,
            str(ckpt), '--work-dir',
            str(tmp_path / 'test'), '--quiet'
        ] + tiny_run_options(toy_root),
        expect_fail=True)
    assert f'could not read checkpoint {ckpt}: the file is truncated' in log
    assert 'does not match' not in log


def test_misspelt_cfg_option_stops_the_tools(toy_root, tmp_path):
    for tool in ('train', 'test'):
        args = [sys.executable, f'tools/{tool}.py', QUICKSTART_CONFIG]
        if tool == 'test':
            args.append(str(tmp_path / 'unused.pth'))
            (tmp_path / 'unused.pth').write_bytes(b'')
        log = run_tool(
            args + ['--work-dir', str(tmp_path / tool)] +
            tiny_run_options(toy_root) + ['model.test_cfg.treshold=0.3'],
            expect_fail=True)
        assert "Did you mean 'model.test_cfg.threshold'?" in log
        assert not (tmp_path / tool).exists()


def test_out_and_show_dir_must_differ(tmp_path):
    # Masks and overlays are named alike: one folder would mix them up.
    log = run_tool([
        sys.executable, 'tools/test.py', QUICKSTART_CONFIG, QUICKSTART_CONFIG,
        '--out',
        str(tmp_path / 'out'), '--show-dir',
        str(tmp_path / 'out') + '/'
    ],
                   expect_fail=True)
    assert '--out and --show-dir are both' in log
    assert not (tmp_path / 'out').exists()
