# Copyright (c) OpenMMLab. All rights reserved.
import csv
import importlib.util
import os.path as osp
import random
import sys

import pytest

from .conftest import REPO, refuses_to_replace_input, run_tool

SCRIPT = osp.join(REPO, 'tools', 'dataset_converters', 'patchgastric.py')
spec = importlib.util.spec_from_file_location('patchgastric', SCRIPT)
patchgastric = importlib.util.module_from_spec(spec)
spec.loader.exec_module(patchgastric)

SUBTYPES = list(patchgastric.SUBTYPE_CLS)
# (slide id, subtype index, number of patches); rows in this csv order.
# Class 0: 6 slides, class 1: 5, class 2 (two subtypes): 4; X is dropped.
SLIDES = [('W1', 0, 3), ('M1', 1, 2), ('W2', 0, 5), ('P1', 2, 4), ('W3', 0, 1),
          ('X1', None, 3), ('M2', 1, 6), ('W4', 0, 4), ('P2', 3, 2),
          ('M3', 1, 3), ('W5', 0, 2), ('P3', 2, 5), ('M4', 1, 1), ('W6', 0, 6),
          ('M5', 1, 4), ('P4', 3, 3)]
LABEL = {sid: (None if s is None else min(s, 2)) for sid, s, _ in SLIDES}


def make_data(root):
    (root / 'patches_captions').mkdir(parents=True)
    with open(root / 'captions.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['id', 'subtype', 'text'])
        for sid, subtype, n in SLIDES:
            name = 'Other subtype' if subtype is None else SUBTYPES[subtype]
            writer.writerow([sid, name, f'caption of {sid}, with a comma'])
            for i in range(n):
                (root / 'patches_captions' / f'{sid}_{i:03d}.jpg').touch()
    return root


def read_lines(path):
    return [line.split(' ') for line in open(path).read().splitlines()]


def slides_of(lines):
    return {name.split('_')[0] for name, _ in lines}


def test_split(tmp_path):
    root = make_data(tmp_path / 'data')
    patchgastric.main(['--data-root', str(root)])
    out = root / 'gastric_cls3_ann'
    val = read_lines(out / 'val_0.8.txt')
    train = read_lines(out / 'train_all_0.2.txt')
    # int(0.8 * n) slides per class to validation: 4 of 6, 4 of 5, 3 of 4.
    for lines, counts in ((val, [4, 4, 3]), (train, [2, 1, 1])):
        for c, count in enumerate(counts):
            assert len({n.split('_')[0]
                        for n, lab in lines if lab == str(c)}) == count
        assert all(LABEL[n.split('_')[0]] == int(lab) for n, lab in lines)
    assert not slides_of(val) & slides_of(train)
    assert slides_of(val) | slides_of(train) == {
        sid
        for sid, s, _ in SLIDES if s is not None
    }
    assert len(val) + len(train) == sum(n for _, s, n in SLIDES
                                        if s is not None)
    # The slide split: one seed, then a sample per class of its ids in csv
    # order.
    random.seed(0)
    expected_val = set()
    for c in range(3):
        ids = [sid for sid, _, _ in SLIDES if LABEL[sid] == c]
        expected_val |= set(random.sample(ids, int(len(ids) * 0.8)))
    assert slides_of(val) == expected_val
    # val is grouped by class, patches sorted by name within a class.
    assert [int(lab) for _, lab in val] == sorted(int(lab) for _, lab in val)
    assert [n for n, _ in train] == sorted(n for n, _ in train)
    assert (out / 'val_0.8.txt').read_text().endswith('.jpg 2\n')

    sizes = {sid: n for sid, _, n in SLIDES}
    train_slides = {
        c: [s for s in slides_of(train) if LABEL[s] == c]
        for c in range(3)
    }
    for k in (1, 2, 4, 8, 16):
        text = (out / f'train_{k}_0.2.txt').read_text()
        assert not text.endswith('\n')
        shot = read_lines(out / f'train_{k}_0.2.txt')
        for c in range(3):
            ranked = sorted(train_slides[c], key=lambda s: -sizes[s])
            assert {s
                    for s in slides_of(shot)
                    if LABEL[s] == c} == set(ranked[:k])
        # All patches of the chosen slides, each once.
        assert sorted(map(tuple, shot)) == sorted(
            tuple(x) for x in train if x[0].split('_')[0] in slides_of(shot))
    assert read_lines(out / 'train_16_0.2.txt') != train  # shuffled


def test_deterministic_and_overwrite(tmp_path):
    root = make_data(tmp_path / 'data')
    first = patchgastric.build_split(
        str(root / 'captions.csv'), str(root / 'patches_captions'))
    assert first == patchgastric.build_split(
        str(root / 'captions.csv'), str(root / 'patches_captions'))
    assert list(first) == ['val_0.8.txt', 'train_all_0.2.txt'] + [
        f'train_{k}_0.2.txt' for k in (1, 2, 4, 8, 16)
    ]
    out = tmp_path / 'ann'
    run_tool([
        sys.executable, SCRIPT, '--data-root',
        str(root), '--out-dir',
        str(out), '--shots', '1'
    ])
    assert (out / 'val_0.8.txt').read_text() == first['val_0.8.txt']
    assert (out / 'train_1_0.2.txt').read_text() == first['train_1_0.2.txt']
    (out / 'train_1_0.2.txt').write_text('old')
    log = run_tool([
        sys.executable, SCRIPT, '--data-root',
        str(root), '--out-dir',
        str(out), '--shots', '1'
    ],
                   expect_fail=True)
    assert '--overwrite' in log
    assert (out / 'train_1_0.2.txt').read_text() == 'old'
    patchgastric.main([
        '--data-root',
        str(root), '--out-dir',
        str(out), '--shots', '1', '--overwrite'
    ])
    assert (out / 'train_1_0.2.txt').read_text() == first['train_1_0.2.txt']


def test_errors(tmp_path):
    root = make_data(tmp_path / 'data')
    with pytest.raises(SystemExit, match='captions csv not found'):
        patchgastric.main([
            '--captions',
            str(tmp_path / 'no.csv'), '--patches',
            str(root / 'patches_captions')
        ])
    with pytest.raises(SystemExit, match='patch folder not found'):
        patchgastric.main(
            ['--data-root',
             str(root), '--patches',
             str(tmp_path / 'none')])
    (root / 'patches_captions' / 'W1_a b.jpg').touch()
    with pytest.raises(SystemExit, match="whitespace.*'W1_a b.jpg'"):
        patchgastric.main(['--data-root', str(root)])
    (tmp_path / 'dup.csv').write_text('id,subtype,text\nA,s,t\nA,s,t\n')
    with pytest.raises(SystemExit, match="line 3: id 'A' appears twice"):
        patchgastric.main([
            '--captions',
            str(tmp_path / 'dup.csv'), '--data-root',
            str(root)
        ])


def test_never_writes_over_its_inputs(tmp_path, capsys):
    root = make_data(tmp_path / 'data')
    patches = root / 'patches_captions'
    message = refuses_to_replace_input(
        patchgastric.main, ['--data-root', root, '--out-dir', patches],
        root / 'captions.csv', capsys)
    assert (f'the output folder to {patches}: it would replace that '
            'input') in message
    # A split file named as the captions file.
    out = tmp_path / 'out'
    out.mkdir()
    captions = out / 'val_0.8.txt'
    captions.write_bytes((root / 'captions.csv').read_bytes())
    message = refuses_to_replace_input(
        patchgastric.main,
        ['--captions', captions, '--patches', patches, '--out-dir', out],
        captions, capsys)
    assert f'val_0.8.txt to {captions}: it would replace that input' \
        in message
