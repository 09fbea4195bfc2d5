# Copyright (c) OpenMMLab. All rights reserved.
"""Score a pretrained text-prompted segmentor over datasets x prompt types.

medvlsm's zero-shot study (``scripts/zss.py``): every dataset is evaluated
once per prompt type (``p0``..``pN``) by the pretrained model, with no
fine-tuning. A cell is one (dataset, prompt type); its score is what
``DiceIoUMetric`` reports, per-image Dice and IoU at the original resolution,
averaged over the images.

Each CONFIG is an ordinary mmvlsm config: its ``model`` (with the weights
named by ``pretrained``) and its ``test_dataloader``. A test set that pools
several datasets (a ``ConcatDataset``) is split by ``dataset_name``; members
sharing a name (CVC-300's train and test files) form one dataset. Every
cell sets ``prompt_type`` on its dataset(s) and runs the test pipeline.
``--cfg-options`` apply to every CONFIG; a model config shared by several
CONFIGs is built once.

Outputs, all under ``--work-dir``:

- ``cells/<dataset>/<prompt type>/per_image.csv``: one row per image;
- ``cells/<dataset>/<prompt type>/metrics.json``: the cell's metrics and the
  fingerprint (model config, checkpoint path and SHA-256, dataset configs)
  that made them;
- ``cells/<dataset>/<prompt type>/masks/`` with ``--save-masks``;
- ``zero_shot_summary.md`` and ``zero_shot_summary.csv``: Dice and IoU
  (mean and standard deviation over images, %) of every cell of this run;
- ``zero_shot.png``: mDice per prompt type, one panel per dataset;
- ``zero_shot_<time>.log``.

A cell is finished once its ``metrics.json`` exists; it is written after
the CSV, and each file is written whole or not at all. Running the same
command again computes only the cells that are not finished. A finished
cell made by another model, checkpoint or dataset config stops the tool
unless ``--overwrite`` is given.

Example (CLIPSeg rd64-refined on two medvlsm datasets)::

    python tools/analysis_tools/zero_shot.py \\
        configs/clipseg/clipseg-rd64-refined_1xb128_kvasir-polyp-352x352.py \\
        configs/clipseg/clipseg-rd64-refined_1xb128_isic-352x352.py \\
        --work-dir work_dirs/zero_shot_clipseg
"""
import argparse
import csv
import gc
import io
import json
import logging
import os
import os.path as osp
import re
import shutil
import time
from collections import OrderedDict
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from torch.utils.data import DataLoader
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

# Importing mmvlsm also installs the mmcv-lite fallbacks and the safe
# checkpoint types (see mmvlsm/__init__.py).
from mmvlsm.apis import init_model
from mmvlsm.datasets import MedVLSMDataset, load_medvlsm_annotations
from mmvlsm.evaluation import DiceIoUMetric, dice_iou
from mmvlsm.models import TextPromptedSegmentor
from mmvlsm.models.utils.model_fingerprint import content_hash
from mmvlsm.registry import DATASETS, MODELS
from mmvlsm.utils.launch import add_cfg_options_args, int_at_least, load_config
from mmvlsm.utils.paths import path_inside, write_atomic

CONCAT_TYPES = ('ConcatDataset', 'mmengine.ConcatDataset')
CELLS_DIR = 'cells'
CELL_CSV, CELL_JSON, CELL_MASKS = 'per_image.csv', 'metrics.json', 'masks'
SUMMARY_MD, SUMMARY_CSV = 'zero_shot_summary.md', 'zero_shot_summary.csv'
SUMMARY_PNG = 'zero_shot.png'
SUMMARY_FIELDS = ('dataset', 'prompt_type', 'n_images', 'dice_mean',
                  'dice_std', 'iou_mean', 'iou_std')
# Summary field -> DiceIoUMetric key.
METRIC_OF_FIELD = OrderedDict(
    dice_mean='mDice',
    dice_std='mDice_std',
    iou_mean='mIoU',
    iou_std='mIoU_std')


@dataclass
class ScoredDataset:
    """A dataset of a config's test set: its members and prompt keys."""
    name: str
    config: str
    cfg: Config
    members: List[dict] = field(default_factory=list)
    num_images: int = 0
    # Prompt keys of every record / of any record, in natural order.
    common_keys: List[str] = field(default_factory=list)
    any_keys: List[str] = field(default_factory=list)


@dataclass
class Cell:
    """One (dataset, prompt type) and where its files go."""
    dataset: ScoredDataset
    prompt_type: str
    folder: str
    fingerprint: dict


def add_loader_args(parser: argparse.ArgumentParser) -> None:
    """``--batch-size``, ``--num-workers`` and ``--device`` of the tools
    that evaluate a model over several datasets (this one and
    ``prompt_sensitivity.py``)."""
    parser.add_argument(
        '--batch-size',
        type=int_at_least(1),
        help='images per batch (default: the test_dataloader\'s)')
    parser.add_argument(
        '--num-workers',
        type=int_at_least(0),
        help='dataloader workers (default: the test_dataloader\'s)')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device to run on (default: cuda if available, else cpu)')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Score a pretrained text-prompted segmentor, without '
        'fine-tuning, on every dataset x prompt type of the test sets of '
        'the configs')
    parser.add_argument(
        'configs',
        nargs='+',
        metavar='CONFIG',
        help='configs whose model and test_dataloader are evaluated')
    parser.add_argument(
        '--work-dir',
        required=True,
        help='folder of the per-cell files, the summary and the log; '
        'running again resumes')
    parser.add_argument(
        '--checkpoint',
        help='load these weights (strictly) instead of the model\'s '
        'pretrained ones, e.g. to score a model fine-tuned on another '
        'dataset')
    parser.add_argument(
        '--prompt-types',
        nargs='+',
        metavar='KEY',
        help='prompt keys to evaluate (default: every key that all records '
        'of a dataset have, p0 p1 ... p10)')
    add_loader_args(parser)
    parser.add_argument(
        '--save-masks',
        action='store_true',
        help='save the predicted masks of each cell (PNG, original size) '
        'in its masks/ folder')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='recompute the requested cells that are finished already, '
        'replacing their files (needed when the model, checkpoint or data '
        'changed)')
    add_cfg_options_args(parser)
    parser.add_argument(
        '--quiet',
        action='store_true',
        help='no progress bars; the console shows warnings and the summary, '
        'the log file everything')
    args = parser.parse_args()
    args.configs = list(dict.fromkeys(args.configs))
    if args.prompt_types and 'random' in args.prompt_types:
        parser.error("--prompt-types takes keys such as p1; 'random' mixes "
                     'them, which a zero-shot cell must not')
    return args


def natural_key(key: str) -> List[Any]:
    """Sort key putting p2 before p10."""
    return [
        int(part) if part.isdigit() else part
        for part in re.split(r'(\d+)', key)
    ]


def safe_name(name: str) -> str:
    """A file name for a dataset name or prompt key."""
    return re.sub(r'[^\w.-]+', '_', name).lstrip('.') or '_'


def load_scored_config(path: str, args: argparse.Namespace) -> Config:
    """Read a config as the other tools do and check it can be scored.

    Raises:
        ValueError: If it has no test_dataloader or its model is not a
            registered :class:`TextPromptedSegmentor`.
    """
    cfg = load_config(path, args.cfg_options, args.cfg_options_allow_new)
    if not cfg.get('test_dataloader'):
        raise ValueError(f'{path} has no test_dataloader; zero_shot.py '
                         'evaluates the test set of each config')
    init_default_scope(cfg.get('default_scope', 'mmvlsm'))
    model_type = cfg.model.get('type')
    model_cls = MODELS.get(model_type) if isinstance(model_type,
                                                     str) else model_type
    if model_cls is None:
        raise ValueError(f'model type {model_type} of {path} is not '
                         'registered')
    if not (isinstance(model_cls, type)
            and issubclass(model_cls, TextPromptedSegmentor)):
        raise ValueError(
            f'model type {model_type} of {path} is not a '
            'TextPromptedSegmentor; zero_shot.py scores text-prompted '
            'models such as CLIPSeg')
    return cfg


def members_of_test_set(dataset_cfg: dict) -> List[dict]:
    """The dataset configs of a test set, ConcatDatasets flattened."""
    if dataset_cfg.get('type') in CONCAT_TYPES:
        return [
            member for child in dataset_cfg['datasets']
            for member in members_of_test_set(child)
        ]
    return [dataset_cfg]


def probe_member(member: dict,
                 config: str) -> Tuple[MedVLSMDataset, List[set]]:
    """Build a member without its pipeline and check its files.

    Returns:
        tuple: The dataset (fully initialised, so every image and mask was
        found) and the prompt keys of each record of its annotation file.

    Raises:
        TypeError: If the member is not a :class:`MedVLSMDataset`.
        ValueError: If it sets ``override_prompt`` or its records share no
            prompt key.
        FileNotFoundError: For a missing annotation file, image or mask
            (named in the message).
    """
    # Lazy, so that the annotation file is read before the data infos.
    dataset = DATASETS.build(dict(member, pipeline=[], lazy_init=True))
    if not isinstance(dataset, MedVLSMDataset):
        raise TypeError(
            f'the test set of {config} holds a {type(dataset).__name__}; '
            'zero_shot.py evaluates MedVLSMDataset test sets, alone or in '
            'a ConcatDataset')
    if dataset.override_prompt is not None:
        raise ValueError(
            f'the test set {dataset.dataset_name!r} of {config} sets '
            'override_prompt, which replaces every prompt type; remove it '
            '(--cfg-options ...override_prompt=None)')
    keys = [
        set(r['prompts']) for r in load_medvlsm_annotations(dataset.ann_file)
    ]
    common = set.intersection(*keys) if keys else set()
    if keys and not common:
        raise ValueError(f'the records of {dataset.ann_file} share no '
                         'prompt key')
    # Any key every record has passes the prompt check, so `full_init`
    # only stops for what zero-shot scoring cannot do without: an empty
    # file, a missing image or mask.
    dataset.prompt_type = sorted(common) or 'p0'
    dataset.full_init()
    return dataset, keys


def collect_datasets(configs: Sequence[str],
                     cfgs: Sequence[Config]) -> List[ScoredDataset]:
    """The datasets of every config's test set, in order.

    Raises:
        ValueError: If two configs test the same dataset name.
    """
    datasets: Dict[str, ScoredDataset] = OrderedDict()
    for config, cfg in zip(configs, cfgs):
        for member in members_of_test_set(cfg.test_dataloader.dataset):
            probe, keys = probe_member(member, config)
            entry = datasets.setdefault(
                probe.dataset_name,
                ScoredDataset(probe.dataset_name, config, cfg))
            if entry.config != config:
                raise ValueError(
                    f'dataset {probe.dataset_name!r} is in the test sets of '
                    f'{entry.config} and {config}; give each dataset once')
            common = set.intersection(*keys)
            if entry.members:
                common &= set(entry.common_keys)
            entry.common_keys = sorted(common, key=natural_key)
            entry.any_keys = sorted(
                set(entry.any_keys).union(*keys), key=natural_key)
            entry.members.append(member)
            entry.num_images += len(probe)
    return list(datasets.values())


def prompt_types_of(dataset: ScoredDataset,
                    requested: Optional[Sequence[str]]) -> List[str]:
    """The prompt types to score on a dataset.

    Raises:
        ValueError: If a requested type is not in every record.
    """
    if not requested:
        return dataset.common_keys
    for key in requested:
        if key in dataset.common_keys:
            continue
        which = 'some' if key in dataset.any_keys else 'all'
        raise ValueError(
            f'unknown prompt type {key!r} for dataset {dataset.name!r} (test '
            f'set of {dataset.config}): {which} of its records lack it; the '
            f'keys all its records have are {", ".join(dataset.common_keys)}')
    return sorted(dict.fromkeys(requested), key=natural_key)


def cell_members(dataset: ScoredDataset, prompt_type: str) -> List[dict]:
    """The dataset's member configs set to one prompt type."""
    # test_mode: the first phrasing of list-valued prompts, as in testing.
    return [
        dict(member, prompt_type=prompt_type, test_mode=True)
        for member in dataset.members
    ]


def as_json(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(obj, default=repr))


def checkpoint_fingerprint(checkpoint: Optional[str]) -> dict:
    """The ``--checkpoint`` file's path and the SHA-256 of its content.

    The whole file is hashed (about a second per GB, less than loading it
    takes): a checkpoint replaced at the same path, even with the same size
    and a copied modification time, changes the hash.

    Returns:
        dict: ``checkpoint`` (absolute path) and ``checkpoint_sha256``, both
        None without a checkpoint.
    """
    if not checkpoint:
        return dict(checkpoint=None, checkpoint_sha256=None)
    return dict(
        checkpoint=osp.abspath(checkpoint),
        checkpoint_sha256=content_hash(checkpoint))


def fingerprint(dataset: ScoredDataset, prompt_type: str,
                weights: dict) -> dict:
    """What a cell's numbers depend on: model, weights and data configs.

    Args:
        weights (dict): What :func:`checkpoint_fingerprint` returns.
    """
    return as_json(
        dict(
            model=dataset.cfg.model,
            **weights,
            data=cell_members(dataset, prompt_type)))


def differences(old: Any, new: Any, prefix: str = '') -> List[str]:
    """``key: old -> new`` for each leaf where two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            line for key in dict.fromkeys([*old, *new])
            for line in differences(
                old.get(key), new.get(key), f'{prefix}{key}.')
        ]
    if (isinstance(old, list) and isinstance(new, list)
            and len(old) == len(new)):
        return [
            line for i, (a, b) in enumerate(zip(old, new))
            for line in differences(a, b, f'{prefix}{i}.')
        ]
    if old == new:
        return []
    return [f'{prefix.rstrip(".")}: {old!r:.60} -> {new!r:.60}']


def read_finished(cell: Cell, logger: MMLogger) -> Optional[dict]:
    """The saved metrics of a finished cell, None if it must be computed."""
    json_file = osp.join(cell.folder, CELL_JSON)
    if not osp.isfile(json_file):
        return None
    try:
        with open(json_file) as f:
            saved = json.load(f)
        missing = {'n_images', 'metrics', 'fingerprint'} - set(saved)
        if missing:
            raise ValueError(f'no {sorted(missing)}')
    except (ValueError, TypeError) as err:
        logger.warning(f'{json_file} is unreadable ({err}); recomputing')
        return None
    if not osp.isfile(osp.join(cell.folder, CELL_CSV)):
        logger.warning(f'{cell.folder} lacks {CELL_CSV}; recomputing')
        return None
    return saved


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def build_loader(cell: Cell, args: argparse.Namespace) -> DataLoader:
    """The test dataloader of a cell's dataset at its prompt type."""
    members = cell_members(cell.dataset, cell.prompt_type)
    loader_cfg = cell.dataset.cfg.test_dataloader.copy()
    loader_cfg.dataset = (
        members[0] if len(members) == 1 else dict(
            type='ConcatDataset', datasets=members))
    if args.batch_size is not None:
        loader_cfg.batch_size = args.batch_size
    if args.num_workers is not None:
        loader_cfg.num_workers = args.num_workers
    # Each loader is read once; pinning only helps a copy to a GPU.
    loader_cfg.persistent_workers = False
    loader_cfg.pin_memory = bool(loader_cfg.get('pin_memory')) and \
        torch.device(args.device).type == 'cuda'
    return Runner.build_dataloader(loader_cfg, seed=0)


def evaluate_cell(model: torch.nn.Module, cell: Cell,
                  args: argparse.Namespace) -> Tuple[list, dict]:
    """Run the model over a cell's images.

    Returns:
        tuple: The per-image CSV rows and ``DiceIoUMetric``'s metrics.
    """
    loader = build_loader(cell, args)
    masks_dir = osp.join(cell.folder, CELL_MASKS) if args.save_masks else None
    metric = DiceIoUMetric(output_dir=masks_dir)
    evaluator = Evaluator(metric)
    images = []
    with tqdm(
            total=len(loader.dataset),
            desc=f'{cell.dataset.name}/{cell.prompt_type}',
            unit='img',
            leave=False,
            disable=args.quiet) as bar, torch.no_grad():
        for batch in loader:
            outputs = model.test_step(batch)
            images += [
                sample.metainfo.get('img_name', osp.basename(sample.img_path))
                for sample in outputs
            ]
            evaluator.process(outputs, batch)
            bar.update(len(outputs))
    # The metric keeps one record per image, in order, until `evaluate`.
    records = list(metric.results)
    metrics = evaluator.evaluate(len(loader.dataset))
    counts = np.array([[r['intersect'], r['pred_area'], r['gt_area']]
                       for r in records]).reshape(-1, 3)
    dice, iou = dice_iou(*counts.T)
    rows = [(image, r['mask_name'], r['prompt_key'], r['text'],
             f'{d * 100:.4f}', f'{i * 100:.4f}', *count)
            for image, r, d, i, count in zip(images, records, dice, iou,
                                             counts.tolist())]
    return rows, metrics


def compute_cell(model: torch.nn.Module, cell: Cell,
                 args: argparse.Namespace) -> dict:
    """Evaluate a cell and write its CSV, then its JSON."""
    # What is there is unfinished or to be overwritten (--overwrite).
    shutil.rmtree(osp.join(cell.folder, CELL_MASKS), ignore_errors=True)
    os.makedirs(cell.folder, exist_ok=True)
    start = time.perf_counter()
    rows, metrics = evaluate_cell(model, cell, args)
    write_atomic(
        osp.join(cell.folder, CELL_CSV),
        csv_text(('image', 'mask', 'prompt_type', 'prompt', 'dice', 'iou',
                  'intersect', 'pred_area', 'gt_area'), rows))
    saved = dict(
        dataset=cell.dataset.name,
        prompt_type=cell.prompt_type,
        n_images=len(rows),
        metrics=metrics,
        config=cell.dataset.config,
        seconds=round(time.perf_counter() - start, 3),
        finished=time.strftime('%Y-%m-%d %H:%M:%S'),
        fingerprint=cell.fingerprint)
    # Written last: its presence marks the cell finished.
    write_atomic(osp.join(cell.folder, CELL_JSON), json.dumps(saved, indent=2))
    return saved


def summary_rows(cells: Sequence[Cell], results: Dict[int,
                                                      dict]) -> List[dict]:
    """One dict of :data:`SUMMARY_FIELDS` per cell."""
    rows = []
    for i, cell in enumerate(cells):
        saved = results[i]
        row = dict(
            dataset=cell.dataset.name,
            prompt_type=cell.prompt_type,
            n_images=saved['n_images'])
        row.update((name, saved['metrics'][key])
                   for name, key in METRIC_OF_FIELD.items())
        rows.append(row)
    return rows


def plot_dice_per_prompt(rows: Sequence[dict],
                         path: str,
                         conditions: Optional[Sequence[str]] = None) -> None:
    """Bar chart of mDice per prompt type, one panel per dataset.

    Args:
        rows (Sequence[dict]): ``dataset``, ``prompt_type``, ``dice_mean``
            and ``dice_std`` (%) of each bar, plus ``condition`` when
            ``conditions`` is given.
        path (str): The PNG file.
        conditions (Sequence[str], optional): Conditions drawn side by side
            within each prompt type, in this order, with a legend. Defaults
            to None: one bar per prompt type, with the standard deviation
            over images as error bar.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(row['dataset'] for row in rows))
    fig, axes = plt.subplots(
        len(datasets), 1, figsize=(10, 3.5 * len(datasets)), squeeze=False)
    series = conditions or [None]
    width = 0.8 / len(series)
    for ax, name in zip(axes[:, 0], datasets):
        mine = [row for row in rows if row['dataset'] == name]
        prompt_types = list(dict.fromkeys(row['prompt_type'] for row in mine))
        for c, condition in enumerate(series):
            bars = {
                row['prompt_type']: row
                for row in mine
                if condition is None or row['condition'] == condition
            }
            offset = (c - (len(series) - 1) / 2) * width
            ax.bar([p + offset for p in range(len(prompt_types))], [
                bars[p]['dice_mean'] if p in bars else 0.0
                for p in prompt_types
            ],
                   width,
                   yerr=None if conditions else
                   [bars[p]['dice_std'] for p in prompt_types],
                   capsize=3,
                   label=condition)
        ax.set_xticks(range(len(prompt_types)), prompt_types)
        ax.set_ylim(0, 100)
        ax.set_ylabel('mDice (%)')
        ax.set_title(f'{name}: mDice per prompt ' +
                     ('condition' if conditions else 'type'))
    if conditions:
        # Outside the axes, where it hides no bar.
        axes[0, 0].legend(
            loc='upper left', bbox_to_anchor=(1.01, 1), fontsize='small')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary_markdown(rows: Sequence[dict], configs: Sequence[str],
                     cfgs: Sequence[Config], checkpoint: Optional[str]) -> str:
    """Two tables, Dice and IoU: rows datasets, columns prompt types."""
    prompt_types = sorted({row['prompt_type']
                           for row in rows},
                          key=natural_key)
    by_dataset: Dict[str, Dict[str, dict]] = OrderedDict()
    for row in rows:
        by_dataset.setdefault(row['dataset'], {})[row['prompt_type']] = row
    weights = f'checkpoint `{checkpoint}`' if checkpoint else \
        'pretrained weights, no fine-tuning'
    lines = ['# Zero-shot evaluation', '']
    lines += [
        f'- `{config}`: {cfg.model.type} '
        f'(`{cfg.model.get("pretrained")}`), threshold '
        f'{(cfg.model.get("test_cfg") or {}).get("threshold", 0.5)}'
        for config, cfg in zip(configs, cfgs)
    ]
    lines += [
        f'- weights: {weights}', '',
        'Mean ± standard deviation over the images of each dataset of the '
        'per-image score, in %.'
    ]
    header = '| dataset | images | ' + ' | '.join(prompt_types) + ' |'
    rule = '| --- | ---: |' + ' ---: |' * len(prompt_types)
    for title, metric in (('Dice', 'dice'), ('IoU', 'iou')):
        lines += ['', f'## {title} (%)', '', header, rule]
        for dataset, cells in by_dataset.items():
            values = [
                f'{cells[p][f"{metric}_mean"]:.2f} ± '
                f'{cells[p][f"{metric}_std"]:.2f}' if p in cells else '–'
                for p in prompt_types
            ]
            num_images = next(iter(cells.values()))['n_images']
            lines.append(f'| {dataset} | {num_images} | ' +
                         ' | '.join(values) + ' |')
    return '\n'.join(lines) + '\n'


def make_cells(datasets: Sequence[ScoredDataset],
               args: argparse.Namespace) -> List[Cell]:
    """Every (dataset, prompt type) to score, with its folder."""
    weights = checkpoint_fingerprint(args.checkpoint)
    cells = [
        Cell(
            dataset, prompt_type,
            path_inside(
                args.work_dir,
                osp.join(CELLS_DIR, safe_name(dataset.name),
                         safe_name(prompt_type))),
            fingerprint(dataset, prompt_type, weights)) for dataset in datasets
        for prompt_type in prompt_types_of(dataset, args.prompt_types)
    ]
    if len({cell.folder for cell in cells}) < len(cells):
        raise ValueError(
            'dataset names or prompt keys clash as folder names: '
            f'{[(c.dataset.name, c.prompt_type) for c in cells]}; set '
            'distinct dataset_name values')
    return cells


def check_fingerprints(cells: Sequence[Cell], finished: Dict[int,
                                                             dict]) -> None:
    """Refuse to mix finished cells of another model or data.

    Raises:
        ValueError: Naming the cells and what differs.
    """
    stale = []
    for i, saved in finished.items():
        changes = differences(saved['fingerprint'], cells[i].fingerprint)
        if changes:
            cell = cells[i]
            stale.append(f'{cell.dataset.name}/{cell.prompt_type}: ' +
                         '; '.join(changes[:3]) +
                         ('; ...' if len(changes) > 3 else ''))
    if stale:
        raise ValueError(
            f'{len(stale)} finished cell(s) in the work dir were computed '
            'with another model, checkpoint or dataset config (saved -> '
            'now):\n  ' + '\n  '.join(stale[:5]) +
            ('\n  ...' if len(stale) > 5 else '') +
            '\nUse another --work-dir, or --overwrite to recompute them.')


def setup_logger(work_dir: str, quiet: bool) -> MMLogger:
    """A logger writing to the console and ``zero_shot_<time>.log``."""
    log_file = path_inside(work_dir,
                           f'zero_shot_{time.strftime("%Y%m%d_%H%M%S")}.log')
    logger = MMLogger.get_instance(
        'mmvlsm_zero_shot', logger_name='mmvlsm', log_file=log_file)
    # The registries' DEBUG messages would reach the console through the
    # progress bars' handler, which has no level of its own.
    logger.setLevel(logging.INFO)
    if quiet:
        set_console_level(logger, logging.WARNING)
    return logger


def set_console_level(logger: MMLogger, level: int) -> None:
    for handler in logger.handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(level)


def compute_cells(cells: Sequence[Cell], pending: Sequence[int],
                  args: argparse.Namespace,
                  logger: MMLogger) -> Dict[int, dict]:
    """Compute the pending cells, building each distinct model once.

    Returns:
        dict[int, dict]: The saved metrics of each computed cell, by index.
    """
    groups: Dict[str, List[int]] = OrderedDict()
    for i in pending:
        key = json.dumps(cells[i].fingerprint['model'], sort_keys=True)
        groups.setdefault(key, []).append(i)
    results = {}
    redirect = nullcontext() if args.quiet else logging_redirect_tqdm(
        loggers=[logger])
    with redirect, tqdm(
            total=len(pending), desc='cells', unit='cell',
            disable=args.quiet) as bar:
        for indices in groups.values():
            dataset = cells[indices[0]].dataset
            logger.info(
                f'building {dataset.cfg.model.type} of {dataset.config}')
            try:
                model = init_model(dataset.cfg, args.checkpoint, args.device)
            except RuntimeError as err:
                if args.checkpoint is None:
                    raise
                raise RuntimeError(
                    f'checkpoint {args.checkpoint} does not match the model '
                    f'of {dataset.config}: {err}') from err
            for i in indices:
                cell = cells[i]
                logger.info(f'cell {cell.dataset.name}/{cell.prompt_type}: '
                            f'{cell.dataset.num_images} images')
                results[i] = compute_cell(model, cell, args)
                bar.update()
            # Freed before the next model is built.
            del model
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    return results


def main() -> None:
    args = parse_args()
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    # Configs, data and prompt types are checked before anything is written.
    cfgs = [load_scored_config(config, args) for config in args.configs]
    datasets = collect_datasets(args.configs, cfgs)
    cells = make_cells(datasets, args)

    os.makedirs(args.work_dir, exist_ok=True)
    logger = setup_logger(args.work_dir, args.quiet)
    results: Dict[int, dict] = {}
    if not args.overwrite:
        for i, cell in enumerate(cells):
            saved = read_finished(cell, logger)
            if saved is not None:
                results[i] = saved
        check_fingerprints(cells, results)
    pending = [i for i in range(len(cells)) if i not in results]
    logger.info(f'{len(cells)} cells over {len(datasets)} dataset(s): '
                f'{len(results)} finished, {len(pending)} to compute')
    results.update(compute_cells(cells, pending, args, logger))

    rows = summary_rows(cells, results)
    write_atomic(
        path_inside(args.work_dir, SUMMARY_CSV),
        csv_text(SUMMARY_FIELDS, [[
            f'{row[key]:.4f}' if isinstance(row[key], float) else row[key]
            for key in SUMMARY_FIELDS
        ] for row in rows]))
    markdown = summary_markdown(rows, args.configs, cfgs, args.checkpoint)
    write_atomic(path_inside(args.work_dir, SUMMARY_MD), markdown)
    plot_dice_per_prompt(rows, path_inside(args.work_dir, SUMMARY_PNG))
    set_console_level(logger, logging.INFO)
    logger.info('\n' + markdown + f'\nSaved to {args.work_dir}: '
                f'{SUMMARY_MD}, {SUMMARY_CSV}, {SUMMARY_PNG}, '
                f'{CELLS_DIR}/<dataset>/<prompt type>/'
                f'{{{CELL_CSV},{CELL_JSON}}}')


if __name__ == '__main__':
    main()
