# Copyright (c) OpenMMLab. All rights reserved.
"""Does the model read the prompt? Score a checkpoint with altered prompts.

medvlsm found that some vision-language segmentation models barely use the
text. This tool measures it: the test set of CONFIG is scored by the model
with CHECKPOINT once per condition, and each condition's mean Dice is
compared with the original prompt's. For every prompt type (``p1``..``pN``
by default; a list-valued prompt uses its first phrasing, as in testing):

- ``original``: the record's own prompt;
- ``shuffled``: each record gets the prompt of the same type of another
  record of its dataset, a derangement drawn with ``--seed``;
- ``wrong size`` / ``wrong location`` / ``wrong colour``: every word of
  that attribute in the prompt is replaced by another value of it
  (:data:`ATTRIBUTE_WORDS`); records without such a word keep their prompt
  and are counted in ``changed``;
- ``empty``: the empty prompt (scored once per dataset).

A condition that changes no prompt is not run: its scores are the
original's. Prompts are replaced in the data pipeline by
``ReplacePromptText`` (keyed by ``mask_name``), the annotation files stay
as they are. A model that reads the text loses Dice under every condition;
one that ignores it scores about the same.

Outputs, all under ``--work-dir``:

- ``prompt_sensitivity.csv`` and ``prompt_sensitivity.md``: per dataset,
  prompt type and condition the images, changed prompts, Dice and IoU
  (mean and std over images, %) and the Dice change against ``original``;
- ``prompt_sensitivity.png``: bar chart of mDice per condition;
- ``per_image/<dataset>/<prompt type>/<condition>.csv``: per-image scores
  and the prompt actually used;
- ``prompt_sensitivity_<time>.log``.

Example (the quickstart model on the toy shapes)::

    python tools/analysis_tools/prompt_sensitivity.py \\
        configs/quickstart/clipseg-tiny_1xb16-650it_toy-shapes-128x128.py \\
        work_dirs/quickstart/iter_650.pth --work-dir work_dirs/sensitivity
"""
import argparse
import dataclasses
import gc
import logging
import os
import os.path as osp
import random
import re
import sys
import time
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import MMLogger

from mmvlsm.apis import init_model
from mmvlsm.datasets import MedVLSMDataset
from mmvlsm.registry import DATASETS
from mmvlsm.utils.launch import add_cfg_options_args
from mmvlsm.utils.paths import path_inside, write_atomic

# zero_shot.py already checks configs, splits pooled test sets by dataset
# and scores one (dataset, prompt type) per call; it is a script, not a
# module of the package, hence the path.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import zero_shot  # noqa: E402  # isort: skip

# Replacement of each attribute word, matched as a whole word, any case.
# Sizes and positions swap with their opposite; colours move one step along
# a cycle, so a colour never maps to itself. "center"/"middle" and
# "medium" have no single opposite and are left alone.
SIZE_WORDS = OrderedDict(
    small='large',
    large='small',
    big='small',
    tiny='large',
    little='large',
    huge='small')
LOCATION_WORDS = OrderedDict(
    left='right',
    right='left',
    top='bottom',
    bottom='top',
    upper='lower',
    lower='upper',
    above='below',
    below='above')
COLOUR_CYCLE = ('red', 'blue', 'green', 'yellow', 'purple', 'orange', 'pink',
                'white', 'brown', 'black')
COLOUR_WORDS = OrderedDict((colour, COLOUR_CYCLE[(i + 1) % len(COLOUR_CYCLE)])
                           for i, colour in enumerate(COLOUR_CYCLE))
ATTRIBUTE_WORDS: Dict[str, Dict[str, str]] = OrderedDict(
    size=SIZE_WORDS, location=LOCATION_WORDS, colour=COLOUR_WORDS)

ORIGINAL, SHUFFLED, EMPTY = 'original', 'shuffled', 'empty'
CONDITIONS = (ORIGINAL, SHUFFLED, *(f'wrong {attribute}'
                                    for attribute in ATTRIBUTE_WORDS), EMPTY)
OUT_CSV, OUT_MD, OUT_PNG = ('prompt_sensitivity.csv', 'prompt_sensitivity.md',
                            'prompt_sensitivity.png')
PER_IMAGE_DIR = 'per_image'
FIELDS = ('dataset', 'prompt_type', 'condition', 'n_images', 'n_changed',
          'dice_mean', 'dice_std', 'iou_mean', 'iou_std', 'dice_change')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Score a text-prompted segmentor with shuffled, '
        'attribute-corrupted and empty prompts against its original ones')
    parser.add_argument('config', help='config with model and test_dataloader')
    parser.add_argument('checkpoint', help='weights to load (strictly)')
    parser.add_argument(
        '--work-dir', required=True, help='folder of the outputs and log')
    parser.add_argument(
        '--prompt-types',
        nargs='+',
        metavar='KEY',
        help='prompt keys to alter (default: every key but p0 that all '
        'records of a dataset have)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the shuffling')
    zero_shot.add_loader_args(parser)
    add_cfg_options_args(parser)
    parser.add_argument(
        '--quiet', action='store_true', help='no progress bars')
    args = parser.parse_args(argv)
    if args.prompt_types and 'random' in args.prompt_types:
        parser.error("--prompt-types takes keys such as p1, not 'random'")
    # zero_shot.evaluate_cell reads it.
    args.save_masks = False
    return args


def _match_case(word: str, like: str) -> str:
    """Spell ``word`` in the case of ``like`` ('RED', 'Red', 'red')."""
    if like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word.capitalize()
    return word


def corrupt_prompt(text: str, attribute: str) -> str:
    """Replace every word of an attribute by another value of it.

    Args:
        text (str): The prompt.
        attribute (str): A key of :data:`ATTRIBUTE_WORDS`.

    Returns:
        str: The prompt with e.g. ``'small red polyp at the top left'``
        becoming ``'large red polyp at the top left'`` (size), ``'small
        blue polyp ...'`` (colour) or ``'... at the bottom right'``
        (location). Unchanged if it holds no such word.
    """
    words = ATTRIBUTE_WORDS[attribute]
    pattern = r'\b(' + '|'.join(map(re.escape, words)) + r')\b'
    return re.sub(
        pattern,
        lambda m: _match_case(words[m.group(0).lower()], m.group(0)),
        text,
        flags=re.IGNORECASE)


def derangement(n: int, seed: int) -> List[int]:
    """A random permutation moving every index when ``n >= 2``.

    Sattolo's algorithm draws a uniformly random single cycle, so no index
    stays in place; deterministic for a seed.

    Returns:
        list[int]: ``perm`` with ``perm[i] != i`` for every ``i``
        (identity for ``n < 2``).
    """
    perm = list(range(n))
    rng = random.Random(seed)
    for i in range(n - 1, 0, -1):
        j = rng.randrange(i)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def shuffle_prompts(texts: Sequence[str], seed: int) -> List[str]:
    """Give each position the text of another one (see :func:`derangement`).
    """
    return [texts[j] for j in derangement(len(texts), seed)]


def condition_texts(texts: 'OrderedDict[str, str]',
                    seed: int) -> Dict[str, Dict[str, str]]:
    """New prompt of every record under each condition but ``empty``.

    Args:
        texts (OrderedDict[str, str]): Original prompt by record key.
        seed (int): Seed of the shuffling.

    Returns:
        dict[str, dict[str, str]]: By condition, the prompts that change.
    """
    keys, originals = list(texts), list(texts.values())
    altered = OrderedDict([(ORIGINAL, originals),
                           (SHUFFLED, shuffle_prompts(originals, seed))])
    for attribute in ATTRIBUTE_WORDS:
        altered[f'wrong {attribute}'] = [
            corrupt_prompt(text, attribute) for text in originals
        ]
    return OrderedDict((condition, {
        key: new
        for key, old, new in zip(keys, originals, new_texts) if new != old
    }) for condition, new_texts in altered.items())


def add_changes(rows: List[dict]) -> List[dict]:
    """Set each row's ``dice_change``: its mDice minus the original's.

    Rows are matched on (dataset, prompt type); a condition without an
    ``original`` row gets None.
    """
    original = {
        (row['dataset'], row['prompt_type']): row['dice_mean']
        for row in rows if row['condition'] == ORIGINAL
    }
    for row in rows:
        base = original.get((row['dataset'], row['prompt_type']))
        row['dice_change'] = None if base is None else \
            row['dice_mean'] - base
    return rows


def record_prompts(dataset: zero_shot.ScoredDataset,
                   prompt_types: Sequence[str]) -> Dict[str, Dict[str, str]]:
    """The prompt of each record of a dataset, by prompt type and mask.

    Raises:
        ValueError: If two records share a mask name, which
            ``ReplacePromptText`` needs to tell them apart.
    """
    texts: Dict[str, Dict[str, str]] = {
        key: OrderedDict()
        for key in prompt_types
    }
    for member in dataset.members:
        # override_prompt skips the key checks; the prompts are read raw.
        built = DATASETS.build(
            dict(member, pipeline=[], test_mode=True, override_prompt=''))
        assert isinstance(built, MedVLSMDataset)
        for i in range(len(built)):
            info = built.get_data_info(i)
            for key in prompt_types:
                if info['mask_name'] in texts[key]:
                    raise ValueError(
                        f'mask {info["mask_name"]} is in two records of '
                        f'dataset {dataset.name!r} ({dataset.config}); '
                        'prompts are replaced by mask name')
                text = info['prompts'][key]
                texts[key][info['mask_name']] = text[0] if isinstance(
                    text, list) else text
    return texts


def with_texts(dataset: zero_shot.ScoredDataset, texts: Dict[str, str],
               default: Optional[str]) -> zero_shot.ScoredDataset:
    """The dataset with ``ReplacePromptText`` first in its pipelines."""
    step = dict(type='ReplacePromptText', texts=texts, default=default)
    members = [
        dict(member, pipeline=[step, *member.get('pipeline', [])])
        for member in dataset.members
    ]
    return dataclasses.replace(dataset, members=members)


def score(model: torch.nn.Module, dataset: zero_shot.ScoredDataset,
          prompt_type: str, condition: str, n_changed: int,
          args: argparse.Namespace) -> dict:
    """Score one condition and write its per-image CSV; return its row."""
    folder = path_inside(
        args.work_dir,
        osp.join(PER_IMAGE_DIR, zero_shot.safe_name(dataset.name),
                 zero_shot.safe_name(prompt_type)))
    os.makedirs(folder, exist_ok=True)
    cell = zero_shot.Cell(dataset, prompt_type, folder, fingerprint={})
    rows, metrics = zero_shot.evaluate_cell(model, cell, args)
    write_atomic(
        osp.join(folder,
                 zero_shot.safe_name(condition) + '.csv'),
        zero_shot.csv_text(('image', 'mask', 'prompt_type', 'prompt', 'dice',
                            'iou', 'intersect', 'pred_area', 'gt_area'), rows))
    return dict(
        dataset=dataset.name,
        prompt_type=prompt_type,
        condition=condition,
        n_images=len(rows),
        n_changed=n_changed,
        dice_mean=metrics['mDice'],
        dice_std=metrics['mDice_std'],
        iou_mean=metrics['mIoU'],
        iou_std=metrics['mIoU_std'])


def score_dataset(model: torch.nn.Module, dataset: zero_shot.ScoredDataset,
                  prompt_types: Sequence[str], args: argparse.Namespace,
                  logger: MMLogger) -> List[dict]:
    """The rows of every prompt type x condition of one dataset."""
    prompts = record_prompts(dataset, prompt_types)
    logger.info(f'{dataset.name}: {dataset.num_images} images, condition '
                f'{EMPTY}')
    # One run for the empty prompt, the same for every prompt type.
    empty = score(model, with_texts(dataset, {}, ''), prompt_types[0], EMPTY,
                  dataset.num_images, args)
    rows = []
    for prompt_type in prompt_types:
        original = None
        for condition, texts in condition_texts(prompts[prompt_type],
                                                args.seed).items():
            logger.info(f'{dataset.name}/{prompt_type}/{condition}: '
                        f'{len(texts)} prompt(s) changed')
            if condition != ORIGINAL and not texts:
                # Nothing to alter: the original's scores, not a rerun.
                row = dict(original, condition=condition, n_changed=0)
            else:
                row = score(model, with_texts(dataset, texts, None),
                            prompt_type, condition, len(texts), args)
            original = original or row
            rows.append(row)
        rows.append(dict(empty, prompt_type=prompt_type))
    return rows


def markdown(rows: Sequence[dict], args: argparse.Namespace) -> str:
    """The table of every row, with the Dice change in points."""
    lines = [
        '# Prompt sensitivity', '', f'- config: `{args.config}`',
        f'- checkpoint: `{args.checkpoint}`', f'- shuffling seed: {args.seed}',
        '', 'Dice and IoU: mean ± std over images, %. Change: mDice minus the '
        'original prompt\'s, in points; a model that reads the text loses '
        'Dice, one that ignores it does not. changed: prompts that differ '
        'from the original (0: not rerun).', '',
        '| dataset | prompt | condition | images | changed | mDice | mIoU '
        '| change |', '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |'
    ]
    for row in rows:
        change = '–' if row['condition'] == ORIGINAL or row[
            'dice_change'] is None else f'{row["dice_change"]:+.2f}'
        lines.append(
            f'| {row["dataset"]} | {row["prompt_type"]} | {row["condition"]} '
            f'| {row["n_images"]} | {row["n_changed"]} '
            f'| {row["dice_mean"]:.2f} ± {row["dice_std"]:.2f} '
            f'| {row["iou_mean"]:.2f} ± {row["iou_std"]:.2f} | {change} |')
    return '\n'.join(lines) + '\n'


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config not found: {args.config}')
    # Config, data and prompt types are checked before anything runs.
    cfg = zero_shot.load_scored_config(args.config, args)
    datasets = zero_shot.collect_datasets([args.config], [cfg])
    plans: List[Tuple[zero_shot.ScoredDataset, List[str]]] = []
    for dataset in datasets:
        keys = zero_shot.prompt_types_of(dataset, args.prompt_types)
        if not args.prompt_types:
            keys = [key for key in keys if key != 'p0']
        if not keys:
            raise ValueError(
                f'dataset {dataset.name!r} of {args.config} has no prompt '
                'type but p0 in all records; pass --prompt-types')
        plans.append((dataset, keys))

    os.makedirs(args.work_dir, exist_ok=True)
    logger = MMLogger.get_instance(
        f'mmvlsm_prompt_sensitivity_{time.time_ns()}',
        logger_name='mmvlsm',
        log_file=path_inside(
            args.work_dir,
            f'prompt_sensitivity_{time.strftime("%Y%m%d_%H%M%S")}.log'))
    logger.setLevel(logging.INFO)
    try:
        model = init_model(cfg, args.checkpoint, args.device)
    except RuntimeError as err:
        raise RuntimeError(f'checkpoint {args.checkpoint} does not match the '
                           f'model of {args.config}: {err}') from err
    rows = []
    for dataset, keys in plans:
        rows += score_dataset(model, dataset, keys, args, logger)
    del model
    gc.collect()

    add_changes(rows)
    write_atomic(
        path_inside(args.work_dir, OUT_CSV),
        zero_shot.csv_text(FIELDS, [[
            f'{row[key]:.4f}' if isinstance(row[key], float) else
            ('' if row[key] is None else row[key]) for key in FIELDS
        ] for row in rows]))
    table = markdown(rows, args)
    write_atomic(path_inside(args.work_dir, OUT_MD), table)
    zero_shot.plot_dice_per_prompt(rows, path_inside(args.work_dir, OUT_PNG),
                                   CONDITIONS)
    logger.info('\n' + table + f'\nSaved to {args.work_dir}: {OUT_MD}, '
                f'{OUT_CSV}, {OUT_PNG}, {PER_IMAGE_DIR}/')


if __name__ == '__main__':
    main()
