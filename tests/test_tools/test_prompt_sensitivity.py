# Copyright (c) OpenMMLab. All rights reserved.
"""tools/analysis_tools/prompt_sensitivity.py: prompt alterations, the Dice
change, ReplacePromptText, and a run on the toy data."""
import csv
import importlib.util
import sys

import pytest

from .conftest import QUICKSTART_CONFIG, REPO, run_tool

TOOL = 'tools/analysis_tools/prompt_sensitivity.py'


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('prompt_sensitivity',
                                                  f'{REPO}/{TOOL}')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corrupt_prompt(tool):
    text = 'Small red polyp at the TOP left, leftmost'
    assert tool.corrupt_prompt(text, 'size') == \
        'Large red polyp at the TOP left, leftmost'
    assert tool.corrupt_prompt(text, 'location') == \
        'Small red polyp at the BOTTOM right, leftmost'
    assert tool.corrupt_prompt(text, 'colour') == \
        'Small blue polyp at the TOP left, leftmost'
    # No attribute word: unchanged; colours never map to themselves.
    assert tool.corrupt_prompt('a polyp', 'colour') == 'a polyp'
    assert all(old != new for old, new in tool.COLOUR_WORDS.items())
    assert set(tool.COLOUR_WORDS.values()) == set(tool.COLOUR_WORDS)


def test_derangement_and_shuffle(tool):
    for n in range(2, 30):
        perm = tool.derangement(n, seed=3)
        assert sorted(perm) == list(range(n))
        assert all(perm[i] != i for i in range(n))
        assert perm == tool.derangement(n, seed=3)
    assert tool.derangement(1, 0) == [0] and tool.derangement(0, 0) == []
    texts = [f'prompt {i}' for i in range(10)]
    shuffled = tool.shuffle_prompts(texts, 0)
    assert shuffled == tool.shuffle_prompts(texts, 0)
    assert shuffled != tool.shuffle_prompts(texts, 1)
    assert sorted(shuffled) == texts
    assert all(a != b for a, b in zip(texts, shuffled))


def test_condition_texts(tool):
    texts = dict(a='red circle on the left', b='blue square', c='green star')
    changed = tool.condition_texts(texts, seed=0)
    assert list(changed) == list(tool.CONDITIONS[:-1])
    assert changed['original'] == {}
    assert sorted(changed['shuffled']) == ['a', 'b', 'c']
    assert changed['wrong size'] == {}
    # Records without a location word keep their prompt and are not listed.
    assert changed['wrong location'] == dict(a='red circle on the right')
    assert changed['wrong colour'] == dict(
        a='blue circle on the left', b='green square', c='yellow star')


def test_add_changes_shows_the_gap(tool):
    """A text-reading model loses Dice, a text-blind one does not."""

    def row(dataset, condition, dice):
        return dict(
            dataset=dataset,
            prompt_type='p2',
            condition=condition,
            dice_mean=dice)

    rows = tool.add_changes([
        row('reads', 'original', 90.0),
        row('reads', 'shuffled', 30.0),
        row('reads', 'empty', 35.0),
        row('blind', 'original', 60.0),
        row('blind', 'shuffled', 59.5),
        row('orphan', 'shuffled', 10.0),
    ])
    changes = [r['dice_change'] for r in rows]
    assert changes == [0.0, -60.0, -55.0, 0.0, -0.5, None]


def test_replace_prompt_text():
    from mmvlsm.registry import TRANSFORMS
    step = TRANSFORMS.build(
        dict(type='ReplacePromptText', texts={'a.png': 'new'}))
    assert step(dict(mask_name='a.png', text='old'))['text'] == 'new'
    assert step(dict(mask_name='b.png', text='old'))['text'] == 'old'
    empty = TRANSFORMS.build(dict(type='ReplacePromptText', default=''))
    assert empty(dict(mask_name='b.png', text='old'))['text'] == ''
    with pytest.raises(KeyError, match='mask_name'):
        step(dict(text='old'))
    with pytest.raises(ValueError, match='strings'):
        TRANSFORMS.build(dict(type='ReplacePromptText', texts={'a': 1}))


def test_prompt_sensitivity_on_toy(toy_root, untrained_checkpoint, tmp_path):
    work_dir = tmp_path / 'sensitivity'
    options = [
        '--cfg-options', f'test_dataloader.dataset.data_root={toy_root}',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ]
    run_tool([
        sys.executable, TOOL, QUICKSTART_CONFIG,
        str(untrained_checkpoint), '--work-dir',
        str(work_dir), '--prompt-types', 'p2', 'p3', '--quiet'
    ] + options)
    with open(work_dir / 'prompt_sensitivity.csv') as f:
        rows = list(csv.DictReader(f))
    conditions = [
        'original', 'shuffled', 'wrong size', 'wrong location', 'wrong colour',
        'empty'
    ]
    assert [(r['prompt_type'], r['condition']) for r in rows
            ] == [(p, c) for p in ('p2', 'p3') for c in conditions]
    by = {(r['prompt_type'], r['condition']): r for r in rows}
    assert all(r['n_images'] == '8' for r in rows)
    # The toy prompts name a colour, p3 a location too, never a size.
    assert by['p2', 'shuffled']['n_changed'] != '0'
    assert by['p2', 'wrong colour']['n_changed'] == '8'
    assert by['p2', 'wrong location']['n_changed'] == '0'
    assert by['p3', 'wrong location']['n_changed'] == '8'
    assert by['p3', 'wrong size']['dice_change'] == '0.0000'
    assert by['p2', 'original']['dice_change'] == '0.0000'
    markdown = (work_dir / 'prompt_sensitivity.md').read_text()
    assert markdown.count('| p3 |') == len(conditions)
    assert (work_dir / 'prompt_sensitivity.png').read_bytes()[:8] == \
        b'\x89PNG\r\n\x1a\n'
    per_image = work_dir / 'per_image'
    files = sorted(p.name for p in per_image.glob('*/p3/*.csv'))
    assert files == sorted(f'{c.replace(" ", "_")}.csv' for c in conditions
                           if c not in ('wrong size', 'empty'))
    with open(next(per_image.glob('*/p3/wrong_colour.csv'))) as f:
        prompts = [r['prompt'] for r in csv.DictReader(f)]
    assert len(prompts) == 8 and all(' on the ' in p for p in prompts)
    assert list(work_dir.glob('prompt_sensitivity_*.log'))


def test_missing_checkpoint(tmp_path):
    out = run_tool([
        sys.executable, TOOL, QUICKSTART_CONFIG,
        str(tmp_path / 'none.pth'), '--work-dir',
        str(tmp_path / 'w')
    ],
                   expect_fail=True)
    assert 'checkpoint not found' in out and 'none.pth' in out
