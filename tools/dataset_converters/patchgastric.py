# Copyright (c) OpenMMLab. All rights reserved.
"""Build CITE's 3-class PatchGastric split (annotation files for
:class:`mmvlsm.datasets.SlidePatchDataset`).

Input: PatchGastricADC22's ``captions.csv`` (columns ``id``, ``subtype``,
``text``; one row per whole-slide image) and the folder of its patches
(``patches_captions/``), a patch belonging to the slide id before the first
``_`` of its file name. Three classes are kept (see ``SUBTYPE_CLS``; the
other subtypes are dropped). Output, in ``--out-dir``, lines
``<filename> <label>`` as CITE's ``tools/ann.py`` writes them:

- ``val_0.8.txt``: ``random.seed(seed)`` once, then for class 0, 1, 2 in
  turn ``random.sample(ids_c, int(len(ids_c) * 0.8))`` of its slide ids
  (in the order of their rows in ``captions.csv``); all patches of those
  slides, grouped by class (one line each, newline-terminated);
- ``train_all_0.2.txt``: the patches of the other slides of the 3 classes;
- ``train_{k}_0.2.txt`` for k in ``--shots`` (1 2 4 8 16): per class the k
  slides of ``train_all`` with the most patches (ties: the slide first seen
  in ``train_all``), all their patches, shuffled by ``random.seed(seed);
  random.shuffle`` (joined by newlines, no trailing newline, as upstream).

Upstream iterates the patch folder in ``os.listdir`` order, which the file
system decides; here the patch file names are **sorted**, which fixes the
line order of every file and hence the ties and the shuffles of the k-shot
files. The slide split itself depends only on the csv row order. Slide ids
are read as strings (upstream's pandas would turn numeric ids into ints
that match no file name).

Example::

    python tools/dataset_converters/patchgastric.py --data-root data
"""
import argparse
import csv
import os
import os.path as osp
import random
import sys
from collections import OrderedDict
from typing import Dict, List, Sequence

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmvlsm.utils.paths import check_not_an_input, write_atomic  # noqa: E402

SUBTYPE_CLS = OrderedDict([
    ('Well differentiated tubular adenocarcinoma', 0),
    ('Moderately differentiated tubular adenocarcinoma', 1),
    ('Poorly differentiated adenocarcinoma, non-solid type', 2),
    ('Poorly differentiated adenocarcinoma, solid type', 2),
])
NUM_CLASSES = 3
SHOTS = (1, 2, 4, 8, 16)


def slide_of(filename: str) -> str:
    """The slide id of a patch file: the part before the first ``_``."""
    return filename.split('_')[0]


def read_captions(path: str) -> Dict[str, int]:
    """Map the slide ids of the 3 classes to labels, in csv row order.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the ``id`` or ``subtype`` column is missing or an id
            appears twice (the row is named).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'captions csv not found: {path}')
    labels: Dict[str, int] = OrderedDict()
    with open(path, newline='', encoding='utf-8-sig') as f:
        reader = csv.DictReader(f)
        missing = {'id', 'subtype'} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f'{path} lacks the column(s) {sorted(missing)}; '
                             f'its header is {reader.fieldnames}')
        seen = set()
        for row in reader:
            slide_id = row['id']
            if slide_id in seen:
                raise ValueError(f'{path}, line {reader.line_num}: id '
                                 f'{slide_id!r} appears twice')
            seen.add(slide_id)
            if row['subtype'] in SUBTYPE_CLS:
                labels[slide_id] = SUBTYPE_CLS[row['subtype']]
    return labels


def list_patches(folder: str) -> List[str]:
    """The sorted file names in ``folder``.

    Raises:
        FileNotFoundError: If ``folder`` is not a directory.
        ValueError: If a name contains whitespace.
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'patch folder not found: {folder}')
    names = sorted(
        name for name in os.listdir(folder)
        if osp.isfile(osp.join(folder, name)))
    spaced = [name for name in names if len(name.split()) != 1]
    if spaced:
        raise ValueError(f'{len(spaced)} patch file names in {folder} hold '
                         f'whitespace (e.g. {spaced[0]!r}); the annotation '
                         'format cannot represent them')
    return names


def split_val_train(labels: Dict[str, int], patches: Sequence[str],
                    val_ratio: float, seed: int):
    """Slide-level split: (val lines, train lines), as ``get_val``."""
    ids_per_class: List[List[str]] = [[] for _ in range(NUM_CLASSES)]
    for slide_id, label in labels.items():
        ids_per_class[label].append(slide_id)
    random.seed(seed)
    val_ids = [
        set(random.sample(ids, int(len(ids) * val_ratio)))
        for ids in ids_per_class
    ]
    val_lines: List[List[str]] = [[] for _ in range(NUM_CLASSES)]
    train_lines = []
    for name in patches:
        slide_id = slide_of(name)
        for label, ids in enumerate(val_ids):
            if slide_id in ids:
                val_lines[label].append(f'{name} {label}')
                break
        else:
            if slide_id in labels:
                train_lines.append(f'{name} {labels[slide_id]}')
    return sum(val_lines, []), train_lines


def few_shot(train_lines: Sequence[str], num_slides: int,
             seed: int) -> List[str]:
    """Per class the ``num_slides`` largest slides, shuffled (``get_patient``
    with ``sort=True``)."""
    per_class: List[List[str]] = [[] for _ in range(NUM_CLASSES)]
    for line in train_lines:
        per_class[int(line.split(' ')[-1])].append(line)
    random.seed(seed)
    chosen = []
    for lines in per_class:
        count: Dict[str, int] = OrderedDict()
        for line in lines:
            slide_id = slide_of(line.split(' ')[0])
            count[slide_id] = count.get(slide_id, 0) + 1
        # Stable: equal counts keep the order of first appearance.
        largest = sorted(count, key=lambda s: count[s], reverse=True)
        keep = set(largest[:num_slides])
        chosen += [
            line for line in lines if slide_of(line.split(' ')[0]) in keep
        ]
    random.shuffle(chosen)
    return chosen


def build_split(captions: str,
                patches: str,
                val_ratio: float = 0.8,
                seed: int = 0,
                shots: Sequence[int] = SHOTS) -> Dict[str, str]:
    """All annotation files: file name -> content."""
    labels = read_captions(captions)
    val_lines, train_lines = split_val_train(labels, list_patches(patches),
                                             val_ratio, seed)
    train_ratio = round(1 - val_ratio, 2)
    files = OrderedDict()
    files[f'val_{val_ratio}.txt'] = ''.join(f'{x}\n' for x in val_lines)
    files[f'train_all_{train_ratio}.txt'] = ''.join(f'{x}\n'
                                                    for x in train_lines)
    for k in shots:
        files[f'train_{k}_{train_ratio}.txt'] = '\n'.join(
            few_shot(train_lines, k, seed))
    return files


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build CITE's 3-class PatchGastric split.")
    parser.add_argument(
        '--data-root',
        default='data',
        help='folder holding captions.csv and patches_captions/')
    parser.add_argument(
        '--captions', help='captions csv (default: DATA_ROOT/captions.csv)')
    parser.add_argument(
        '--patches', help='patch folder (default: DATA_ROOT/patches_captions)')
    parser.add_argument(
        '--out-dir',
        help='output folder (default: DATA_ROOT/gastric_cls3_ann)')
    parser.add_argument(
        '--val-ratio',
        type=float,
        default=0.8,
        help='fraction of the slides of each class for validation')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--shots',
        type=int,
        nargs='*',
        default=list(SHOTS),
        help='slides per class of the few-shot training files')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace existing annotation files')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    captions = args.captions or osp.join(args.data_root, 'captions.csv')
    patches = args.patches or osp.join(args.data_root, 'patches_captions')
    out_dir = args.out_dir or osp.join(args.data_root, 'gastric_cls3_ann')
    if not 0 < args.val_ratio < 1:
        raise SystemExit(f'--val-ratio must be in (0, 1), got '
                         f'{args.val_ratio}')
    if any(k < 1 for k in args.shots):
        raise SystemExit(f'--shots must be positive, got {args.shots}')
    try:
        files = build_split(captions, patches, args.val_ratio, args.seed,
                            args.shots)
        outputs = {osp.join(out_dir, name): name for name in files}
        check_not_an_input({
            out_dir: 'the output folder',
            **outputs
        }, [captions, patches])
    except (OSError, ValueError) as err:
        raise SystemExit(f'error: {err}')
    existing = [name for name in files if osp.exists(osp.join(out_dir, name))]
    if existing and not args.overwrite:
        raise SystemExit(f'error: {out_dir} already holds {existing}; pass '
                         '--overwrite to replace them')
    for name, content in files.items():
        write_atomic(osp.join(out_dir, name), content)
        lines = content.splitlines()
        per_class = [0] * NUM_CLASSES
        slides = [set() for _ in range(NUM_CLASSES)]
        for line in lines:
            filename, label = line.split(' ')
            per_class[int(label)] += 1
            slides[int(label)].add(slide_of(filename))
        print(f'{osp.join(out_dir, name)}: {len(lines)} patches '
              f'{per_class}, slides {[len(s) for s in slides]}')


if __name__ == '__main__':
    main()
