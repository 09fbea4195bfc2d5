# Copyright (c) OpenMMLab. All rights reserved.
"""Training curves of mmvlsm runs from mmengine's scalar logs, as a PNG.

Each run is read from ``vis_data/scalars.json`` (one JSON object per line,
written by mmengine's ``LocalVisBackend``): training lines (those with a
``loss*`` key or ``lr``) and validation lines (the others: ``mDice``,
``mIoU``, ...), all with their ``step`` (the iteration in iteration-based
training). A run is given as the work dir (its latest ``<timestamp>/`` run
that has a ``vis_data/scalars.json``), a ``<timestamp>/`` folder or the
``scalars.json`` file itself. The picture has one panel of loss terms
against the iteration, one of the learning rate if asked for, and one of
the validation metrics; several runs are overlaid with a legend.

Example::

    python tools/analysis_tools/plot_curves.py work_dirs/clipseg \\
        work_dirs/cris --keys loss mDice mIoU --out work_dirs/curves.png
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

Series = Dict[str, Tuple[List[int], List[float]]]

DEFAULT_VAL_KEYS = ('mDice', 'mIoU')
SCALARS = osp.join('vis_data', 'scalars.json')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot training losses and validation metrics')
    parser.add_argument(
        'runs',
        nargs='+',
        help='work dirs (their latest run), run folders or scalars.json '
        'files')
    parser.add_argument(
        '--keys',
        nargs='+',
        help='scalars to plot (default: every loss* and mDice, mIoU)')
    parser.add_argument(
        '--labels', nargs='+', help='legend names of the runs, one each')
    parser.add_argument('--out', required=True, help='output PNG file')
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.runs):
        parser.error(f'{len(args.labels)} --labels for {len(args.runs)} runs')
    return args


def find_scalars(path: str) -> str:
    """The ``scalars.json`` of a work dir (its latest run), a run folder or
    the file itself.

    Raises:
        FileNotFoundError: If there is none; the message names ``path``.
    """
    if osp.isfile(path):
        return path
    if osp.isfile(osp.join(path, SCALARS)):
        return osp.join(path, SCALARS)
    # mmengine names run folders by their start time, so the last is latest.
    runs = sorted(glob.glob(osp.join(glob.escape(path), '*', SCALARS)))
    if not runs:
        raise FileNotFoundError(
            f'No {SCALARS} in {path} or its run folders; is it an mmengine '
            'work dir?')
    return runs[-1]


def _is_train(line: dict) -> bool:
    return 'lr' in line or any(k.startswith('loss') for k in line)


def load_scalars(path: str) -> Tuple[Series, Series]:
    """Read a ``scalars.json``.

    Args:
        path (str): The file.

    Returns:
        tuple[dict, dict]: The training and the validation series: each
        maps a key to its (steps, values), in file order. Non-numeric values
        are skipped.

    Raises:
        ValueError: If a line is not a JSON object with a ``step``; the
            message gives the line number.
    """
    train: Series = {}
    val: Series = {}
    with open(path, encoding='utf-8') as f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
                step = int(line['step'])
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(f'{path} line {number} is not a JSON object '
                                 f'with a step: {err}') from err
            series = train if _is_train(line) else val
            for key, value in line.items():
                if key in ('step', 'iter', 'epoch') or isinstance(
                        value, bool) or not isinstance(value, (int, float)):
                    continue
                steps, values = series.setdefault(key, ([], []))
                steps.append(step)
                values.append(float(value))
    return train, val


def choose_keys(runs: Sequence[Tuple[Series, Series]],
                keys: Optional[Sequence[str]]) -> List[List[str]]:
    """The keys of each panel: losses, learning rate, validation metrics.

    Args:
        runs (Sequence[tuple]): (train, val) series of each run.
        keys (Sequence[str], optional): Keys asked for; None means every
            ``loss*`` key and ``mDice``, ``mIoU``.

    Returns:
        list[list[str]]: The non-empty panels, in that order.

    Raises:
        ValueError: If an asked key is in no run; the message lists the
            keys there are.
    """
    train_keys = [k for t, _ in runs for k in t]
    val_keys = [k for _, v in runs for k in v]
    if keys is None:
        keys = [k for k in dict.fromkeys(train_keys) if k.startswith('loss')]
        keys += [k for k in DEFAULT_VAL_KEYS if k in val_keys]
    missing = [k for k in keys if k not in train_keys and k not in val_keys]
    if missing:
        raise ValueError(f'{missing} in no run; there are '
                         f'{sorted(set(train_keys) | set(val_keys))}')
    panels = [[k for k in keys if k in train_keys and k != 'lr'],
              [k for k in keys if k == 'lr' and k in train_keys],
              [k for k in keys if k not in train_keys]]
    return [p for p in panels if p]


def plot(runs: Sequence[Tuple[Series, Series]], labels: Sequence[str],
         panels: Sequence[Sequence[str]], out_file: str) -> None:
    """Draw the panels side by side and save them as a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, keys in zip(axes[0], panels):
        for (train, val), label in zip(runs, labels):
            for key in keys:
                series = train.get(key) or val.get(key)
                if not series:
                    continue
                name = key if len(runs) == 1 else f'{label}: {key}'
                marker = 'o-' if key not in train else '-'
                ax.plot(*series, marker, label=name, markersize=3)
        is_val = keys[0] not in runs_train_keys(runs)
        ax.set_xlabel('iteration')
        ax.set_ylabel('validation (%)' if is_val else
                      'learning rate' if keys == ['lr'] else 'loss')
        if keys == ['lr']:
            ax.ticklabel_format(axis='y', style='sci', scilimits=(0, 0))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    if osp.dirname(out_file):
        os.makedirs(osp.dirname(out_file), exist_ok=True)
    fig.savefig(out_file, dpi=120)
    plt.close(fig)


def runs_train_keys(runs: Sequence[Tuple[Series, Series]]) -> set:
    """Every training key of ``runs``."""
    return {k for train, _ in runs for k in train}


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    try:
        files = [find_scalars(path) for path in args.runs]
        runs = [load_scalars(f) for f in files]
        panels = choose_keys(runs, args.keys)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f'plot_curves.py: {err}')
    labels = args.labels or [
        osp.basename(osp.normpath(path)) for path in args.runs
    ]
    plot(runs, labels, panels, args.out)
    for label, f in zip(labels, files):
        print(f'{label}: {f}')
    print(f'curves saved to {args.out}')


if __name__ == '__main__':
    main()
