# Copyright (c) OpenMMLab. All rights reserved.
import itertools
from unittest.mock import patch

import pytest
from mmengine.registry import DefaultScope

from mmvlsm.datasets import (ClassBalancedInfiniteSampler, SlidePatchDataset,
                             parse_patch_annotations)
from mmvlsm.registry.classification import DATA_SAMPLERS, DATASETS

CLASSES = ('well', 'moderate', 'poor')
# Slides A (2 patches, class 0), B (3 patches, class 1), C (1, class 2),
# D (2, class 0), with a trailing newline.
LINES = [
    'A_1.jpg 0', 'B_1.jpg 1', 'A_2.jpg 0', 'B_2.jpg 1', 'C_1.jpg 2',
    'B_3.jpg 1', 'D_1.jpg 0', 'D_2.jpg 0'
]


@pytest.fixture(autouse=True)
def mmvlsm_scope():
    """Build configs in the classification scope, as the runner does for a
    config with ``default_scope='mmvlsm_cls'`` (overrides conftest's)."""
    with DefaultScope.overwrite_default_scope('mmvlsm_cls'):
        yield


def write_ann(tmp_path, lines, name='ann.txt'):
    path = tmp_path / name
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def make_dataset(tmp_path, lines=LINES, **kwargs):
    kwargs.setdefault('classes', CLASSES)
    return SlidePatchDataset(
        ann_file=write_ann(tmp_path, lines),
        data_prefix=str(tmp_path / 'patches'),
        **kwargs)


def test_parse_and_data_infos(tmp_path):
    write_ann(tmp_path, LINES)
    dataset = DATASETS.build(
        dict(
            type='SlidePatchDataset',
            data_root=str(tmp_path),
            ann_file='ann.txt',
            data_prefix='patches',
            classes=CLASSES))
    assert len(dataset) == 8
    assert dataset.metainfo['classes'] == CLASSES
    info = dataset.get_data_info(1)
    assert info['img_path'] == str(tmp_path / 'patches' / 'B_1.jpg')
    assert info['gt_label'] == 1 and isinstance(info['gt_label'], int)
    assert info['slide_id'] == 'B'
    assert dataset.get_gt_labels().tolist() == [0, 1, 0, 1, 2, 1, 0, 0]
    assert dataset.get_cat_ids(4) == [2]


def test_slide_helpers(tmp_path):
    dataset = make_dataset(tmp_path)
    assert dataset.slide_ids == ['A', 'B', 'C', 'D']
    assert dataset.get_slide_id(6) == 'D'
    assert dataset.slide_to_indices() == {
        'A': [0, 2],
        'B': [1, 3, 5],
        'C': [4],
        'D': [6, 7]
    }
    assert dataset.class_to_slides == {0: ['A', 'D'], 1: ['B'], 2: ['C']}
    assert 'Number of slides: \t4' in repr(dataset)


def test_slide_id_separator_and_blank_lines(tmp_path):
    lines = ['', 'S1-x-1.png 0', '   ', 'S1-x-2.png 0', 'S2-y.png 1']
    dataset = make_dataset(tmp_path, lines, slide_id_sep='-')
    assert dataset.slide_ids == ['S1', 'S2']
    # No trailing newline (upstream's k-shot files), CRLF and tabs.
    path = tmp_path / 'crlf.txt'
    path.write_bytes(b'a_1.jpg\t0\r\nb_1.jpg 2')
    records = parse_patch_annotations(str(path), 3)
    assert records == [('a_1.jpg', 0, 'a'), ('b_1.jpg', 2, 'b')]


@pytest.mark.parametrize('bad_line, message',
                         [('E_1.jpg', 'line 3 .*missing label'),
                          ('E_1.jpg x', 'line 3 .*not an integer'),
                          ('E_1.jpg 1.0', 'line 3 .*not an integer'),
                          ('E_1.jpg 3', 'line 3 .*outside the 3 classes'),
                          ('E_1.jpg -1', 'line 3 .*outside the 3 classes'),
                          ('E 1.jpg 0', 'line 3 .*must not contain spaces')])
def test_malformed_line(tmp_path, bad_line, message):
    lines = LINES[:2] + [bad_line] + LINES[2:]
    with pytest.raises(ValueError, match=r'ann\.txt, ' + message):
        make_dataset(tmp_path, lines)


def test_mixed_slide_labels(tmp_path):
    lines = ['A_1.jpg 0', 'B_1.jpg 1', 'A_2.jpg 2']
    with pytest.raises(ValueError, match="line 3 .*slide 'A'.*line 1"):
        make_dataset(tmp_path, lines)
    dataset = make_dataset(tmp_path, lines, check_slide_labels=False)
    assert dataset.class_to_slides == {0: ['A'], 1: ['B'], 2: ['A']}


@pytest.mark.parametrize('check_slide_labels', [True, False])
@pytest.mark.parametrize('duplicate', ['A_1.jpg 0', 'A_1.jpg\t0', 'A_1.jpg 1'])
def test_patch_listed_twice(tmp_path, duplicate, check_slide_labels):
    # Blank line 3: the line numbers are those of the file.
    lines = ['A_1.jpg 0', 'B_1.jpg 1', '', 'A_2.jpg 0', duplicate]
    with pytest.raises(
            ValueError,
            match=r"ann\.txt, line 5 .*'A_1\.jpg' is already listed on "
            r'line 1'):
        make_dataset(tmp_path, lines, check_slide_labels=check_slide_labels)


def test_empty_missing_and_no_classes(tmp_path):
    with pytest.raises(ValueError, match='ann.txt is empty'):
        make_dataset(tmp_path, ['', ' '])
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        SlidePatchDataset(ann_file=str(tmp_path / 'nope.txt'), classes=CLASSES)
    with pytest.raises(ValueError, match='needs class names'):
        make_dataset(tmp_path, classes=None)
    (tmp_path / 'latin1.txt').write_bytes(b'\xe9_1.jpg 0\n')
    with pytest.raises(ValueError, match='not UTF-8'):
        parse_patch_annotations(str(tmp_path / 'latin1.txt'), 3)


# -- ClassBalancedInfiniteSampler -------------------------------------------


def take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_sampler_class_balance(tmp_path):
    dataset = make_dataset(tmp_path)
    labels = dataset.get_gt_labels().tolist()
    sampler = DATA_SAMPLERS.build(
        dict(type='ClassBalancedInfiniteSampler', dataset=dataset, seed=3))
    assert isinstance(sampler, ClassBalancedInfiniteSampler)
    assert len(sampler) == 8
    stream = take(sampler, 300)
    for start in range(0, 300, 3):
        assert [labels[i] for i in stream[start:start + 3]] == [0, 1, 2]
    # Each class goes through all its samples before any repeats.
    class0 = [i for i in stream if labels[i] == 0]
    for start in range(0, len(class0) - 3, 4):
        assert sorted(class0[start:start + 4]) == [0, 2, 6, 7]
    class1 = [i for i in stream if labels[i] == 1]
    assert all(sorted(class1[s:s + 3]) == [1, 3, 5] for s in range(0, 99, 3))
    # Reshuffled between passes (not the same order every time).
    passes = {tuple(class0[s:s + 4]) for s in range(0, 72, 4)}
    assert len(passes) > 1


def test_sampler_determinism_and_unshuffled(tmp_path):
    dataset = make_dataset(tmp_path)
    a = take(ClassBalancedInfiniteSampler(dataset, seed=0), 50)
    b = take(ClassBalancedInfiniteSampler(dataset, seed=0), 50)
    c = take(ClassBalancedInfiniteSampler(dataset, seed=1), 50)
    assert a == b and a != c
    plain = take(ClassBalancedInfiniteSampler(dataset, shuffle=False), 12)
    assert plain == [0, 1, 4, 2, 3, 4, 6, 5, 4, 7, 1, 4]


@pytest.mark.parametrize('world_size', [2, 3])
def test_sampler_ranks_share_the_stream(tmp_path, world_size):
    dataset = make_dataset(tmp_path)
    full = take(ClassBalancedInfiniteSampler(dataset, seed=5), 60)
    shares = []
    for rank in range(world_size):
        with patch(
                'mmvlsm.datasets.samplers.class_balanced_sampler.'
                'get_dist_info',
                return_value=(rank, world_size)):
            sampler = ClassBalancedInfiniteSampler(dataset, seed=5)
        shares.append(take(sampler, 60 // world_size))
    # Rank r holds the positions r, r + w, ... of the one global stream, so
    # the ranks' shares are disjoint and together the whole stream.
    for rank, share in enumerate(shares):
        assert share == full[rank::world_size]
    interleaved = [i for step in zip(*shares) for i in step]
    assert interleaved == full


def test_sampler_skips_empty_classes_and_needs_labels(tmp_path):
    dataset = make_dataset(tmp_path, ['A_1.jpg 0', 'C_1.jpg 2', 'C_2.jpg 2'])
    with patch('mmvlsm.datasets.samplers.class_balanced_sampler.print_log'
               ) as log:
        sampler = ClassBalancedInfiniteSampler(dataset, seed=0)
    assert 'classes [1] have no samples' in log.call_args[0][0]
    labels = [dataset.get_gt_labels()[i] for i in take(sampler, 10)]
    assert labels == [0, 2] * 5
    with pytest.raises(TypeError, match='get_gt_labels'):
        ClassBalancedInfiniteSampler([1, 2, 3], seed=0)
