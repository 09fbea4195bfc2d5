# Copyright (c) OpenMMLab. All rights reserved.
import re
import sys

from .conftest import QUICKSTART_CONFIG, run_tool, tiny_run_options


def _losses(log):
    return [
        float(v)
        for v in re.findall(r'Iter\(train\) \[\d/3\].* loss: (\S+)', log)
    ]


def test_compiled_train_step_matches_eager(toy_root, tmp_path):
    """`compile` in the config: mmengine compiles the train step (inductor,
    on the CPU here); the losses are those of the eager run."""
    config = tmp_path / 'compiled.py'
    config.write_text(f'_base_ = {QUICKSTART_CONFIG!r}\ncompile = True\n')
    logs = {}
    for name, cfg in (('eager', QUICKSTART_CONFIG), ('compiled', config)):
        logs[name] = run_tool([
            sys.executable, 'tools/train.py',
            str(cfg), '--work-dir',
            str(tmp_path / name)
        ] + tiny_run_options(toy_root, max_iters=3, interval=3))
    assert 'Model has been "compiled"' in logs['compiled']
    assert 'trim_tokens=False' in logs['compiled']
    eager, compiled = _losses(logs['eager']), _losses(logs['compiled'])
    assert len(eager) == len(compiled) == 3
    for a, b in zip(eager, compiled):
        assert abs(a - b) < 2e-3
    assert 'Model has been "compiled"' not in logs['eager']
