# Copyright (c) OpenMMLab. All rights reserved.
"""Mean +- std tables over runs (seeds) of ``tools/test.py``.

Every RUN_DIR is the ``--work-dir`` of one ``tools/test.py`` run: it holds
``test_metrics.json`` and the config the runner dumped there
(``<config name>.py``). Runs of the same config name (e.g. one training per
seed, each tested into its own folder) form a group; each group gets one
row per dataset (the metric's ``<dataset>/<key>`` entries, or the single
dataset's plain keys) with the mean and the standard deviation over its
runs (``ddof=1``; 0 for a single run) of every metric, and the prompt type
the test set used.

Outputs: ``summary.csv`` (one column per statistic) and ``summary.md``
(``mean +- std`` cells) in ``--out``.

Example::

    python tools/analysis_tools/summarize_runs.py work_dirs/test_seed*/ \\
        --out work_dirs/summary
"""
import argparse
import csv
import glob
import io
import json
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmengine.config import Config

from mmvlsm.utils.paths import write_atomic

# Reported per dataset, when the runs have them.
KEYS = ('mDice', 'mIoU', 'gDice', 'gIoU', 'mHD95', 'mHD95_mm', 'mNSD',
        'mNSD_mm')


def read_run(run_dir: str) -> Tuple[str, str, Dict[str, Dict[str, float]]]:
    """The config name, prompt type and metrics per dataset of one run.

    Raises:
        FileNotFoundError: Without ``test_metrics.json`` or a dumped config.
    """
    metrics_file = osp.join(run_dir, 'test_metrics.json')
    if not osp.isfile(metrics_file):
        raise FileNotFoundError(f'{run_dir} has no test_metrics.json: is it '
                                'the --work-dir of a tools/test.py run?')
    configs = sorted(glob.glob(osp.join(run_dir, '*.py')))
    if len(configs) != 1:
        raise FileNotFoundError(
            f'{run_dir} should hold the one config the runner dumped, found '
            f'{[osp.basename(c) for c in configs]}')
    cfg = Config.fromfile(configs[0])
    dataset = cfg.test_dataloader.dataset
    prompt_type = str(dataset.get('prompt_type', '')) if isinstance(
        dataset, dict) else ''
    with open(metrics_file) as f:
        metrics = json.load(f)
    per_dataset: Dict[str, Dict[str, float]] = OrderedDict()
    for key, value in metrics.items():
        name, _, metric = key.rpartition('/')
        if metric in KEYS:
            per_dataset.setdefault(name or 'all', {})[metric] = float(value)
    if len(per_dataset) > 1:
        per_dataset.pop('all', None)  # the pooled keys of several datasets
    return osp.splitext(osp.basename(configs[0]))[0], prompt_type, per_dataset


def summarize(run_dirs: List[str]) -> List[dict]:
    """One row per (config, prompt type, dataset): runs, mean and std."""
    groups: Dict[tuple, List[Dict[str, float]]] = OrderedDict()
    for run_dir in run_dirs:
        config, prompt_type, per_dataset = read_run(run_dir)
        for dataset, values in per_dataset.items():
            key = (config, prompt_type, dataset)
            groups.setdefault(key, []).append(values)
    rows = []
    for (config, prompt_type, dataset), runs in groups.items():
        row = OrderedDict(
            config=config,
            prompt_type=prompt_type,
            dataset=dataset,
            runs=len(runs))
        for key in KEYS:
            values = [run[key] for run in runs if key in run]
            if len(values) == len(runs):
                row[f'{key}_mean'] = float(np.mean(values))
                row[f'{key}_std'] = float(np.std(
                    values, ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def to_csv(rows: List[dict]) -> str:
    header = list(OrderedDict.fromkeys(k for row in rows for k in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, header, lineterminator='\n')
    writer.writeheader()
    for row in rows:
        writer.writerow({
            k: f'{v:.4f}' if isinstance(v, float) else v
            for k, v in row.items()
        })
    return text.getvalue()


def to_markdown(rows: List[dict]) -> str:
    keys = [k for k in KEYS if any(f'{k}_mean' in row for row in rows)]
    lines = [
        '| config | prompt | dataset | runs | ' + ' | '.join(keys) + ' |',
        '| --- | --- | --- | ---: | ' + ' | '.join('---:' for _ in keys) + ' |'
    ]
    for row in rows:
        cells = [
            f'{row[f"{k}_mean"]:.2f} ± {row[f"{k}_std"]:.2f}'
            if f'{k}_mean' in row else '-' for k in keys
        ]
        lines.append(f'| {row["config"]} | {row["prompt_type"] or "-"} | '
                     f'{row["dataset"]} | {row["runs"]} | ' +
                     ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description='Mean +- std tables over tools/test.py runs')
    parser.add_argument('run_dirs', nargs='+', help='work dirs of test runs')
    parser.add_argument('--out', required=True, help='output folder')
    args = parser.parse_args(argv)
    try:
        rows = summarize(args.run_dirs)
    except FileNotFoundError as err:
        sys.exit(f'summarize_runs.py: {err}')
    write_atomic(osp.join(args.out, 'summary.csv'), to_csv(rows))
    markdown = to_markdown(rows)
    write_atomic(osp.join(args.out, 'summary.md'), markdown)
    print(markdown)


if __name__ == '__main__':
    main()
