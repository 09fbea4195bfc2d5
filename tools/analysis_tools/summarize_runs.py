# Copyright (c) OpenMMLab. All rights reserved.
"""Mean +- std tables over runs (seeds) of ``tools/test.py``.

Every RUN_DIR is the ``--work-dir`` of one ``tools/test.py`` run: it holds
``test_metrics.json`` and the config the runner dumped there
(``<config name>.py``). Runs whose configs have the same content, apart
from what changes from run to run (``work_dir``, ``randomness``, the
launcher, ``--out`` and ``--show-dir`` folders), form a group, named after
the config file name most of its runs have (with a short hash of the
content where different contents share a name). A folder given twice, also
through a link, counts once.

Segmentation (default): one row per group and dataset (the metric's
``<dataset>/<key>`` entries, or the single dataset's plain keys) with the
mean and the standard deviation over its runs (``ddof=1``; 0 for a single
run) of every metric, and the prompt type the test set used. Outputs:
``summary.csv`` (one column per statistic) and ``summary.md``
(``mean +- std`` cells) in ``--out``.

``--sweep`` (CITE and its baselines, :class:`SlideAccuracy`'s metrics): the
paper's tables of patch and slide accuracy, one row per image encoder x
text model (and the rest of the config), one column per number of training
slides per class, the shots, read from the training annotation file
(``train_{k}_*.txt``: k, otherwise ``all``; 0 for a zero-shot config).
Cells are ``mean +- std (runs)`` over seeds; a run's seed is the number in
its folder's name (``...seed3``) or else the config's ``randomness.seed``.
Outputs: ``sweep.md`` and ``sweep.csv`` (one line per cell) in ``--out``.

Examples::

    python tools/analysis_tools/summarize_runs.py work_dirs/test_seed*/ \\
        --out work_dirs/summary
    python tools/analysis_tools/summarize_runs.py work_dirs/cite_*_seed*/ \\
        --sweep --out work_dirs/sweep
"""
import argparse
import copy
import csv
import glob
import hashlib
import io
import json
import os.path as osp
import re
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple, Union

import numpy as np
from mmengine.config import Config

from mmvlsm.utils.paths import write_atomic

# Reported per dataset, when the runs have them.
KEYS = ('mDice', 'mIoU', 'gDice', 'gIoU', 'mHD95', 'mHD95_mm', 'mNSD',
        'mNSD_mm')
# The sweep's metrics (SlideAccuracy's keys) and their table titles.
SWEEP_KEYS = (('accuracy', 'Patch accuracy (%)'), ('slide_accuracy',
                                                   'Slide accuracy (%)'))
# Config entries that differ between runs of one setting (dotted paths).
RUN_ENTRIES = ('work_dir', 'launcher', 'randomness', 'log_level',
               'model_wrapper_cfg', 'load_from', 'resume',
               'default_hooks.visualization', 'val_evaluator.output_dir',
               'test_evaluator.output_dir')
SEED_IN_NAME = re.compile(r'seed[-_]?(\d+)', re.IGNORECASE)
SHOTS_IN_ANN_FILE = re.compile(r'(?:^|[/_])train_(\d+|all)_[^/]*$')
SHOTS_IN_NAME = re.compile(r'[-_]\d+shot$')

Shots = Union[int, str]


class RunError(ValueError):
    """A run folder that cannot be summarised; the message names it."""


@dataclass
class Run:
    """One ``tools/test.py`` work dir: its dumped config and metrics."""
    run_dir: str
    config_name: str
    cfg: dict
    metrics: Dict[str, float]


def read_run(run_dir: str) -> Run:
    """The dumped config and the metrics of one run.

    Raises:
        FileNotFoundError: Without ``test_metrics.json`` or a dumped config.
        RunError: If ``test_metrics.json`` is not a JSON object of numbers.
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
    with open(metrics_file) as f:
        try:
            metrics = json.load(f)
        except json.JSONDecodeError as err:
            raise RunError(f'{metrics_file} is not valid JSON ({err}): was '
                           'the test run interrupted?') from err
    if not isinstance(metrics, dict) or not all(
            isinstance(v, (int, float)) for v in metrics.values()):
        raise RunError(f'{metrics_file} should map metric names to numbers')
    return Run(run_dir,
               osp.splitext(osp.basename(configs[0]))[0],
               Config.fromfile(configs[0]).to_dict(), metrics)


def read_runs(run_dirs: Iterable[str]) -> List[Run]:
    """Read every run once, whatever path or link leads to it."""
    seen: Dict[str, str] = {}
    runs = []
    for run_dir in run_dirs:
        real = osp.realpath(run_dir)
        if real in seen:
            print(
                f'summarize_runs.py: {run_dir} is {seen[real]}, counted once',
                file=sys.stderr)
            continue
        seen[real] = run_dir
        runs.append(read_run(run_dir))
    return runs


def _pop(cfg: dict, dotted: str) -> None:
    """Remove ``a.b.c`` from nested dicts (in every item of a list)."""
    head, _, rest = dotted.partition('.')
    nodes = cfg if isinstance(cfg, list) else [cfg]
    for node in nodes:
        if not isinstance(node, dict) or head not in node:
            continue
        if rest:
            _pop(node[head], rest)
        else:
            del node[head]


def _train_dataset(cfg: dict) -> dict:
    """The innermost training dataset (through dataset wrappers)."""
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    while 'ann_file' not in dataset and isinstance(
            dataset.get('dataset'), dict):
        dataset = dataset['dataset']
    return dataset


def config_content(cfg: dict, sweep: bool = False) -> str:
    """The config without its per-run entries, as canonical JSON; with
    ``sweep``, without the training annotation file (the shots) too."""
    cfg = copy.deepcopy(cfg)
    for entry in RUN_ENTRIES:
        _pop(cfg, entry)
    if sweep:
        _train_dataset(cfg).pop('ann_file', None)
    return json.dumps(cfg, sort_keys=True, default=repr)


def group_runs(runs: List[Run], sweep: bool = False) -> Dict[str, List[Run]]:
    """Runs by config content, in the order they were given."""
    groups: Dict[str, List[Run]] = OrderedDict()
    for run in runs:
        groups.setdefault(config_content(run.cfg, sweep), []).append(run)
    return groups


def group_names(groups: Dict[str, List[Run]],
                sweep: bool = False) -> Dict[str, str]:
    """A name per group: the config name most of its runs have (the
    shortest of those), with ``sweep`` without a ``-<k>shot`` suffix, and
    with a hash of the content where several contents would get the same
    name."""
    names = {}
    for content, runs in groups.items():
        run_names = [
            SHOTS_IN_NAME.sub('', run.config_name)
            if sweep else run.config_name for run in runs
        ]
        names[content] = min(
            run_names,
            key=lambda name: (-run_names.count(name), len(name), name))
    counts: Dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    return {
        content:
        name if counts[name] == 1 else
        f'{name} [{hashlib.sha1(content.encode()).hexdigest()[:8]}]'
        for content, name in names.items()
    }


def _mean_std(values: List[float]) -> Tuple[float, float]:
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return float(np.mean(values)), std


def _check_same_keys(runs: List[Run], keys: List[set], what: str) -> None:
    """Runs of one group must report the same metrics."""
    for run, run_keys in zip(runs[1:], keys[1:]):
        if run_keys != keys[0]:
            raise RunError(
                f'mixed metrics: {run.run_dir} reports {sorted(run_keys)} '
                f'for {what}, {runs[0].run_dir} of the same config '
                f'{sorted(keys[0])}')


def segmentation_metrics(run: Run) -> Dict[str, Dict[str, float]]:
    """The metrics in :data:`KEYS` of a run, per dataset."""
    per_dataset: Dict[str, Dict[str, float]] = OrderedDict()
    for key, value in run.metrics.items():
        name, _, metric = key.rpartition('/')
        if metric in KEYS:
            per_dataset.setdefault(name or 'all', {})[metric] = float(value)
    if not per_dataset:
        raise RunError(
            f'{run.run_dir}/test_metrics.json has none of {list(KEYS)} '
            f'(it has {sorted(run.metrics)}); --sweep summarises '
            'classification runs')
    if len(per_dataset) > 1:
        per_dataset.pop('all', None)  # the pooled keys of several datasets
    return per_dataset


def summarize(runs: List[Run]) -> List[dict]:
    """One row per (config, prompt type, dataset): runs, mean and std."""
    groups = group_runs(runs)
    names = group_names(groups)
    rows = []
    for content, group in groups.items():
        dataset_cfg = group[0].cfg.get('test_dataloader',
                                       {}).get('dataset', {})
        prompt_type = str(dataset_cfg.get('prompt_type', ''))
        per_run = [segmentation_metrics(run) for run in group]
        _check_same_keys(group, [set(m) for m in per_run], 'its datasets')
        for dataset in per_run[0]:
            _check_same_keys(group, [set(m[dataset]) for m in per_run],
                             dataset)
            row = OrderedDict(
                config=names[content],
                prompt_type=prompt_type,
                dataset=dataset,
                runs=len(group))
            for key in KEYS:
                if key in per_run[0][dataset]:
                    row[f'{key}_mean'], row[f'{key}_std'] = _mean_std(
                        [m[dataset][key] for m in per_run])
            rows.append(row)
    return rows


def run_shots(run: Run) -> Shots:
    """Training slides per class: 0 (zero-shot), k or ``'all'``."""
    if run.cfg.get('zero_shot', False):
        return 0
    match = SHOTS_IN_ANN_FILE.search(
        str(_train_dataset(run.cfg).get('ann_file', '')))
    if match is None or match.group(1) == 'all':
        return 'all'
    return int(match.group(1))


def run_seed(run: Run) -> Optional[int]:
    """The seed in the folder's name, or else the config's."""
    match = SEED_IN_NAME.search(osp.basename(osp.normpath(run.run_dir)))
    if match is not None:
        return int(match.group(1))
    return run.cfg.get('randomness', {}).get('seed')


def _source_name(source: str) -> str:
    """A weight file or model: the file name of absolute paths, else the
    path or Hub name as the config gives it."""
    return osp.basename(source.rstrip('/')) if osp.isabs(source) else source


def encoder_name(model: dict) -> str:
    """The image encoder: backbone type and its weights (and their format),
    or its architecture when it loads none."""
    backbone = model.get('backbone', {})
    init_cfg = backbone.get('init_cfg') or {}
    init_cfg = init_cfg[0] if isinstance(init_cfg, list) else init_cfg
    source = next(
        (backbone[key]
         for key in ('pretrained', 'checkpoint') if backbone.get(key)),
        init_cfg.get('checkpoint'))
    name = str(backbone.get('type', '?'))
    if source:
        name += f' {_source_name(str(source))}'
        if backbone.get('pretrained_format'):
            name += f' ({backbone["pretrained_format"]})'
        return name
    arch = backbone.get('arch')
    if isinstance(arch, dict):
        arch = ','.join(f'{k}={v}' for k, v in arch.items())
    return ' '.join(
        str(part) for part in (name, arch, '(no pretrained weights)') if part)


def text_model_name(model: dict) -> str:
    """The text model and its embedding rule, the cached embeddings, or the
    head type of a head without text."""
    head = model.get('head', {})
    if head.get('text_embeddings_file'):
        return f'cached {_source_name(str(head["text_embeddings_file"]))}'
    encoder = head.get('text_encoder')
    if not encoder:
        return f'- ({head.get("type", "no head")})'
    parts = [] if encoder.get('type', 'bert') == 'bert' else [encoder['type']]
    source = encoder.get('model') or encoder.get('checkpoint')
    if source:
        parts.append(_source_name(str(source)))
    if encoder.get('key'):
        parts.append(f'({encoder["key"]})')
    return ' '.join(parts)


def _shots_order(shots: Shots) -> Tuple[int, int]:
    return (1, 0) if shots == 'all' else (0, int(shots))


def sweep(runs: List[Run]) -> List[dict]:
    """One row per (setting, shots): encoder, text model, config name,
    shots, runs, seeds and the mean and std of the sweep's metrics."""
    groups = group_runs(runs, sweep=True)
    names = group_names(groups, sweep=True)
    keys = [key for key, _ in SWEEP_KEYS]
    rows = []
    for content, group in groups.items():
        for run in group:
            missing = [key for key in keys if key not in run.metrics]
            if missing:
                raise RunError(
                    f'mixed metrics: {run.run_dir}/test_metrics.json has no '
                    f'{missing} (it has {sorted(run.metrics)}); --sweep needs '
                    "SlideAccuracy's metrics in every run")
        cells: Dict[Shots, List[Run]] = OrderedDict()
        for run in group:
            cells.setdefault(run_shots(run), []).append(run)
        model = group[0].cfg.get('model', {})
        for shots in sorted(cells, key=_shots_order):
            cell = cells[shots]
            seeds = [run_seed(run) for run in cell]
            repeated = sorted(
                {s
                 for s in seeds if s is not None and seeds.count(s) > 1})
            if repeated:
                print(
                    f'summarize_runs.py: seed {repeated} repeats in '
                    f'{[run.run_dir for run in cell]}; name each test run '
                    "after its training's seed (...seed1) to tell them apart",
                    file=sys.stderr)
            row = OrderedDict(
                encoder=encoder_name(model),
                text_model=text_model_name(model),
                config=names[content],
                shots=shots,
                runs=len(cell),
                seeds=' '.join('?' if s is None else str(s) for s in seeds))
            for key in keys:
                row[f'{key}_mean'], row[f'{key}_std'] = _mean_std(
                    [float(run.metrics[key]) for run in cell])
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


def _cell(row: dict, key: str) -> str:
    return f'{row[f"{key}_mean"]:.2f} ± {row[f"{key}_std"]:.2f}'


def to_markdown(rows: List[dict]) -> str:
    keys = [k for k in KEYS if any(f'{k}_mean' in row for row in rows)]
    lines = [
        '| config | prompt | dataset | runs | ' + ' | '.join(keys) + ' |',
        '| --- | --- | --- | ---: | ' + ' | '.join('---:' for _ in keys) + ' |'
    ]
    for row in rows:
        cells = [_cell(row, k) if f'{k}_mean' in row else '-' for k in keys]
        lines.append(f'| {row["config"]} | {row["prompt_type"] or "-"} | '
                     f'{row["dataset"]} | {row["runs"]} | ' +
                     ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def sweep_to_markdown(rows: List[dict]) -> str:
    """A table per metric: settings x shots, ``mean ± std (runs)``."""
    shots = sorted({row['shots'] for row in rows}, key=_shots_order)
    settings = list(
        OrderedDict.fromkeys((row['encoder'], row['text_model'], row['config'])
                             for row in rows))
    cells = {
        (row['encoder'], row['text_model'], row['config'], row['shots']): row
        for row in rows
    }
    lines = []
    for key, title in SWEEP_KEYS:
        lines += [
            f'### {title}', '',
            'Training slides per class (0: zero-shot); mean ± std over '
            'seeds (runs).', '', '| encoder | text model | config | ' +
            ' | '.join(map(str, shots)) + ' |',
            '| --- | --- | --- | ' + ' | '.join('---:' for _ in shots) + ' |'
        ]
        for setting in settings:
            values = [
                f'{_cell(cells[setting + (s, )], key)} '
                f'({cells[setting + (s, )]["runs"]})' if setting +
                (s, ) in cells else '-' for s in shots
            ]
            lines.append('| ' + ' | '.join(setting) + ' | ' +
                         ' | '.join(values) + ' |')
        lines.append('')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description='Mean +- std tables over tools/test.py runs')
    parser.add_argument('run_dirs', nargs='+', help='work dirs of test runs')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--sweep',
        action='store_true',
        help='patch and slide accuracy of classification runs: encoder x '
        'text model rows, shots columns (sweep.md, sweep.csv)')
    args = parser.parse_args(argv)
    try:
        runs = read_runs(args.run_dirs)
        rows = sweep(runs) if args.sweep else summarize(runs)
    except (FileNotFoundError, RunError) as err:
        sys.exit(f'summarize_runs.py: {err}')
    name = 'sweep' if args.sweep else 'summary'
    write_atomic(osp.join(args.out, f'{name}.csv'), to_csv(rows))
    markdown = sweep_to_markdown(rows) if args.sweep else to_markdown(rows)
    write_atomic(osp.join(args.out, f'{name}.md'), markdown)
    print(markdown)


if __name__ == '__main__':
    main()
