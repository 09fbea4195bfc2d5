# Copyright (c) OpenMMLab. All rights reserved.
import copy
import csv
import functools
import importlib.util
import json
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from .conftest import REPO, run_tool

TOOL = 'tools/analysis_tools/summarize_runs.py'
spec = importlib.util.spec_from_file_location('summarize_runs',
                                              osp.join(REPO, TOOL))
summarize_runs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summarize_runs)


def fake_run(root, name, config, prompt_type, metrics):
    """A tools/test.py work dir: its metrics and the dumped config."""
    run = root / name
    run.mkdir()
    (run / f'{config}.py').write_text(
        f'test_dataloader = dict(dataset=dict(prompt_type={prompt_type!r}))')
    (run / 'test_metrics.json').write_text(json.dumps(metrics))
    return str(run)


def test_mean_and_std_over_seeds(tmp_path):
    runs = [
        fake_run(
            tmp_path, f'seed{i}', 'clipseg_kvasir', 'p1', {
                'kvasir/mDice': dice,
                'kvasir/mIoU': dice - 10,
                'etis/mDice': dice - 20,
                'etis/mIoU': dice - 30,
                'mDice': 0.0,
            }) for i, dice in enumerate((80.0, 84.0, 82.0))
    ]
    runs.append(
        fake_run(tmp_path, 'other', 'cris_kvasir', 'p6', {
            'mDice': 90.0,
            'mIoU': 85.0,
            'mHD95': 12.5
        }))
    out = tmp_path / 'summary'
    log = run_tool([sys.executable, TOOL, *runs, '--out', str(out)])
    assert '| clipseg_kvasir | p1 | kvasir | 3 | 82.00 ± 2.00 | 72.00 ± 2.00' \
        in log
    assert '| cris_kvasir | p6 | all | 1 | 90.00 ± 0.00 | 85.00 ± 0.00' in log
    rows = (out / 'summary.csv').read_text().splitlines()
    assert rows[0].startswith('config,prompt_type,dataset,runs,mDice_mean')
    assert len(rows) == 4  # kvasir, etis, cris
    assert 'mHD95_mean' in rows[0]
    assert (out / 'summary.md').read_text().count('\n') == 5
    assert '| clipseg_kvasir | p1 | etis | 3 | 62.00 ± 2.00' in log


@pytest.mark.parametrize('sweep', [[], ['--sweep']])
def test_a_folder_that_is_not_a_test_run(tmp_path, sweep):
    # sys.exit with a message: exit status 1.
    with pytest.raises(SystemExit, match=f'{tmp_path} has no test_metrics'):
        summarize_runs.main([str(tmp_path), '--out',
                             str(tmp_path / 'o')] + sweep)


def test_runs_are_grouped_by_config_content(tmp_path, capsys):
    # Seeds 0 and 1 under one config name, seed 2 under another with the
    # same content: one group, named as most of its runs. A config of the
    # same name but another content is a group of its own.
    runs = [
        fake_run(tmp_path, f'seed{i}', name, 'p1', {'mDice': dice})
        for i, (name, dice) in enumerate((('clipseg_kvasir', 80.0),
                                          ('clipseg_kvasir_copy',
                                           84.0), ('clipseg_kvasir', 82.0)))
    ]
    runs.append(
        fake_run(tmp_path, 'p2', 'clipseg_kvasir', 'p2', {'mDice': 70.0}))
    summarize_runs.main([*runs, '--out', str(tmp_path)])
    rows = capsys.readouterr().out.splitlines()[2:4]
    assert rows[0].startswith('| clipseg_kvasir [')
    assert rows[0].endswith('| p1 | all | 3 | 82.00 ± 2.00 |')
    assert rows[1].startswith('| clipseg_kvasir [')
    assert rows[1].endswith('| p2 | all | 1 | 70.00 ± 0.00 |')


# --sweep: work dirs of CITE test runs, with the configs the runner dumps
# (the real configs, adapted) and SlideAccuracy's metrics.

CITE = 'cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3'
ZERO_SHOT = 'zero-shot_clip-vit-b16_patchgastric-cls3'
MINILM = {
    'model.head.text_encoder.model': 'checkpoints/all-MiniLM-L6-v2',
    'model.head.text_encoder.key': 'mean',
    'model.head.in_channels': 384,
    'model.neck.out_channels': 384,
}


@functools.lru_cache()
def real_config(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'cite', f'{name}.py'))


def cite_run(root,
             folder,
             config,
             accuracy,
             slide_accuracy,
             seed=0,
             options=None,
             dumped_as=None):
    """A tools/test.py work dir of ``config`` (a file of configs/cite)."""
    run = root / folder
    run.mkdir()
    cfg = copy.deepcopy(real_config(config))
    cfg.merge_from_dict(
        dict(
            options or {},
            work_dir=str(run),
            launcher='none',
            randomness=dict(seed=seed)))
    cfg.dump(str(run / f'{dumped_as or config}.py'))
    (run / 'test_metrics.json').write_text(
        json.dumps(
            dict(
                accuracy=accuracy, slide_accuracy=slide_accuracy,
                slide_ties=0)))
    return str(run)


def test_sweep_table(tmp_path, capsys):
    runs = [
        # 1 shot, seeds 0, 1 (folder names) and 2 (config), the last
        # dumped under another name: one cell of 3 runs.
        cite_run(tmp_path, 'cite_1shot_seed0', f'{CITE}-1shot', 50., 60.),
        cite_run(tmp_path, 'cite_1shot_seed1', f'{CITE}-1shot', 52., 70.),
        cite_run(
            tmp_path,
            'other',
            f'{CITE}-1shot',
            54.,
            80.,
            seed=2,
            dumped_as='my_cite_1shot'),
        cite_run(tmp_path, 'cite_all_seed0', CITE, 80., 90.),
        # Another text model: another row.
        cite_run(
            tmp_path,
            'minilm_4shot_seed0',
            f'{CITE}-4shot',
            60.,
            75.,
            options=MINILM),
        cite_run(
            tmp_path,
            'minilm_4shot_seed1',
            f'{CITE}-4shot',
            64.,
            85.,
            options=MINILM),
        cite_run(tmp_path, 'zero_shot', ZERO_SHOT, 40., 45.),
    ]
    (tmp_path / 'link').symlink_to(runs[0])  # the same run, counted once
    out = tmp_path / 'sweep'
    summarize_runs.main(
        [*runs, str(tmp_path / 'link'), '--sweep', '--out',
         str(out)])
    assert f'link is {runs[0]}, counted once' in capsys.readouterr().err

    with open(out / 'sweep.csv') as f:
        rows = list(csv.DictReader(f))
    assert [(r['shots'], r['runs'], r['seeds'])
            for r in rows] == [('1', '3', '0 1 2'), ('all', '1', '0'),
                               ('4', '2', '0 1'), ('0', '1', '0')]
    # Hand-computed: patch 50, 52, 54 -> 52 +- 2; slide 60, 70, 80 ->
    # 70 +- 10; 60, 64 -> 62 +- 2.8284; 75, 85 -> 80 +- 7.0711 (ddof=1).
    assert [(r['accuracy_mean'], r['accuracy_std'], r['slide_accuracy_mean'],
             r['slide_accuracy_std'])
            for r in rows] == [('52.0000', '2.0000', '70.0000', '10.0000'),
                               ('80.0000', '0.0000', '90.0000', '0.0000'),
                               ('62.0000', '2.8284', '80.0000', '7.0711'),
                               ('40.0000', '0.0000', '45.0000', '0.0000')]
    clip = 'PromptedViT checkpoints/ViT-B-16.pt (clip)'
    assert [
        (r['encoder'], r['text_model']) for r in rows
    ] == [(clip, 'michiyasunaga/BioLinkBERT-large (pooler_output)')] * 2 + [
        (clip, 'checkpoints/all-MiniLM-L6-v2 (mean)'),
        (clip, 'openai_clip checkpoints/ViT-B-16.pt')
    ]
    # The two CITE rows share a name without the shots, so a hash of their
    # configs tells them apart.
    assert rows[0]['config'].startswith(f'{CITE} [')
    assert rows[0]['config'] == rows[1]['config'] != rows[2]['config']
    assert rows[3]['config'] == ZERO_SHOT

    markdown = (out / 'sweep.md').read_text().splitlines()
    assert markdown[0] == '### Patch accuracy (%)'
    assert markdown[4] == ('| encoder | text model | config | 0 | 1 | 4 | '
                           'all |')
    assert markdown[6] == (
        f'| {clip} | michiyasunaga/BioLinkBERT-large (pooler_output) | '
        f'{rows[0]["config"]} | - | 52.00 ± 2.00 (3) | - | 80.00 ± 0.00 (1) |')
    assert markdown[8].endswith(
        f'{ZERO_SHOT} | 40.00 ± 0.00 (1) | - | - | - |')
    slide = markdown.index('### Slide accuracy (%)')
    assert markdown[slide + 6].endswith(
        '| - | 70.00 ± 10.00 (3) | - | 90.00 ± 0.00 (1) |')
    assert markdown[slide + 7].endswith('| - | - | 80.00 ± 7.07 (2) | - |')


def test_sweep_errors(tmp_path):
    good = cite_run(tmp_path, 'good', CITE, 80., 90.)
    broken = cite_run(tmp_path, 'broken', CITE, 80., 90.)
    with open(osp.join(broken, 'test_metrics.json'), 'w') as f:
        f.write('{"accuracy": 80.0, "slide_')  # an interrupted write
    segmentation = fake_run(tmp_path, 'seg', 'clipseg_kvasir', 'p1',
                            {'mDice': 80.0})
    for run, message in (
        (broken, f'{broken}/test_metrics.json is not valid JSON'),
        (segmentation, f"mixed metrics: {segmentation}/test_metrics.json "
         "has no ['accuracy', 'slide_accuracy']"),
    ):
        with pytest.raises(SystemExit) as exc:
            summarize_runs.main(
                [good, str(run), '--sweep', '--out',
                 str(tmp_path / 'o')])
        assert message in str(exc.value.code)
    # Without --sweep, classification runs are named as such.
    with pytest.raises(
            SystemExit,
            match=f'{good}/test_metrics.json has '
            "none of .* --sweep summarises classification"):
        summarize_runs.main([good, '--out', str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists()


def test_mixed_metrics_in_a_group(tmp_path):
    runs = [
        fake_run(tmp_path, 'seed0', 'cris', 'p1', {
            'mDice': 80.0,
            'mIoU': 70.0
        }),
        fake_run(tmp_path, 'seed1', 'cris', 'p1', {'mDice': 82.0})
    ]
    with pytest.raises(
            SystemExit,
            match=r"mixed metrics: .*seed1 reports "
            r"\['mDice'\] for all, .*seed0 of the same config "
            r"\['mDice', 'mIoU'\]"):
        summarize_runs.main([*runs, '--out', str(tmp_path / 'o')])
