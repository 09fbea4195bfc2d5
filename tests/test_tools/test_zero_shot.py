# Copyright (c) OpenMMLab. All rights reserved.
"""tools/analysis_tools/zero_shot.py on the toy data, with the quickstart's
CLIPSeg saved by transformers as "pretrained" weights."""
import csv
import importlib.util
import json
import os
import os.path as osp
import shutil
import sys

import cv2
import numpy as np
import pytest

from .conftest import QUICKSTART_CONFIG, REPO, run_tool

ZERO_SHOT = 'tools/analysis_tools/zero_shot.py'
PROMPT_TYPES = ['p0', 'p1', 'p2', 'p3', 'p4']
# Two configs: a pooled test set whose toy_b joins two members, and a
# single dataset; both with the same model, built once.
POOLED_CONFIG = '''
_base_ = BASE
model = dict(pretrained=PRETRAINED, config=None)
member = dict(type='MedVLSMDataset', data_root=ROOT, test_mode=True,
              pipeline={{_base_.test_pipeline}})
test_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        ignore_keys=['dataset_name'],
        datasets=[
            dict(member, ann_file='anns/test.json', dataset_name='toy_a'),
            dict(member, ann_file='anns/val.json', dataset_name='toy_b'),
            dict(member, ann_file='anns/train.json', dataset_name='toy_b',
                 indices=4),
        ]))
'''
SINGLE_CONFIG = '''
_base_ = BASE
model = dict(pretrained=PRETRAINED, config=None)
test_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=ROOT, ann_file='anns/train.json',
                 dataset_name='toy_c', indices=6))
'''
NUM_IMAGES = dict(toy_a=8, toy_b=12, toy_c=6)


@pytest.fixture(scope='module')
def pretrained_dir(tmp_path_factory):
    """The quickstart's small CLIPSeg, randomly initialised and saved with
    ``save_pretrained`` as a Hub model is."""
    import torch
    from mmengine.config import Config
    from transformers import CLIPSegConfig, CLIPSegForImageSegmentation
    directory = tmp_path_factory.mktemp('pretrained_clipseg')
    torch.manual_seed(0)
    config = Config.fromfile(QUICKSTART_CONFIG).model.config
    CLIPSegForImageSegmentation(
        CLIPSegConfig(**config)).save_pretrained(directory)
    return directory


def _config(path, template, root, pretrained):
    path.write_text(
        template.replace('BASE', repr(QUICKSTART_CONFIG)).replace(
            'PRETRAINED',
            repr(str(pretrained))).replace('ROOT', repr(str(root))))
    return str(path)


def _quickstart_options(root, pretrained):
    """The quickstart config on the toy data with the pretrained model."""
    return [
        '--cfg-options', f'test_dataloader.dataset.data_root={root}',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        f'model.pretrained={pretrained}', 'model.config=None'
    ]


def _read_csv(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def _cell_files(work_dir):
    return {
        str(p.relative_to(work_dir)): p.stat().st_mtime_ns
        for p in (work_dir / 'cells').rglob('metrics.json')
    }


def test_summary_matches_per_image_csvs_and_resumes(toy_root, pretrained_dir,
                                                    tmp_path):
    configs = [
        _config(tmp_path / 'pooled.py', POOLED_CONFIG, toy_root,
                pretrained_dir),
        _config(tmp_path / 'single.py', SINGLE_CONFIG, toy_root,
                pretrained_dir)
    ]
    work_dir = tmp_path / 'zero_shot'
    command = [
        sys.executable, ZERO_SHOT, *configs, '--work-dir',
        str(work_dir)
    ]
    log = run_tool(command)
    assert '15 cells over 3 dataset(s): 0 finished, 15 to compute' in log
    assert log.count('building CLIPSeg') == 1

    rows = _read_csv(work_dir / 'zero_shot_summary.csv')
    assert list(rows[0]) == [
        'dataset', 'prompt_type', 'n_images', 'dice_mean', 'dice_std',
        'iou_mean', 'iou_std'
    ]
    assert [(r['dataset'], r['prompt_type']) for r in rows
            ] == [(d, p) for d in NUM_IMAGES for p in PROMPT_TYPES]
    for row in rows:
        cell = work_dir / 'cells' / row['dataset'] / row['prompt_type']
        images = _read_csv(cell / 'per_image.csv')
        assert int(
            row['n_images']) == len(images) == NUM_IMAGES[row['dataset']]
        assert {image['prompt_type']
                for image in images} == {row['prompt_type']}
        for metric in ('dice', 'iou'):
            values = np.array([float(image[metric]) for image in images])
            assert float(row[f'{metric}_mean']) == pytest.approx(
                values.mean(), abs=1e-3)
            assert float(row[f'{metric}_std']) == pytest.approx(
                values.std(), abs=1e-3)
        saved = json.loads((cell / 'metrics.json').read_text())
        assert saved['metrics']['mDice'] == pytest.approx(
            float(row['dice_mean']), abs=1e-4)
    # toy_b holds both of its members' images.
    images = _read_csv(work_dir / 'cells' / 'toy_b' / 'p1' / 'per_image.csv')
    assert sum(i['image'].startswith('train_') for i in images) == 4

    markdown = (work_dir / 'zero_shot_summary.md').read_text()
    assert markdown.count('| dataset | images | p0 | p1 | p2 | p3 | p4 |') \
        == 2
    first = rows[0]
    assert (f'| toy_a | 8 | {float(first["dice_mean"]):.2f} ± '
            f'{float(first["dice_std"]):.2f} |') in markdown
    assert '| toy_b | 12 |' in markdown and '| toy_c | 6 |' in markdown
    assert markdown in log.replace('\r', '')
    # The plot: one panel (of equal height) per dataset.
    plot = cv2.imread(str(work_dir / 'zero_shot.png'))
    assert plot is not None and plot.shape[0] == 3 * 350

    # An interrupted cell (its CSV written, not its JSON) is the only one
    # computed again.
    before = _cell_files(work_dir)
    (work_dir / 'cells' / 'toy_b' / 'p3' / 'metrics.json').unlink()
    log = run_tool(command)
    assert '14 finished, 1 to compute' in log
    assert 'cell toy_b/p3' in log and 'cell toy_a/p0' not in log
    after = _cell_files(work_dir)
    changed = [name for name in after if after[name] != before[name]]
    assert changed == ['cells/toy_b/p3/metrics.json']
    assert _read_csv(work_dir / 'zero_shot_summary.csv') == rows


def test_prompt_types_and_fingerprint(toy_root, pretrained_dir,
                                      untrained_checkpoint, tmp_path):
    work_dir = tmp_path / 'zero_shot'
    command = [
        sys.executable, ZERO_SHOT, QUICKSTART_CONFIG, '--work-dir',
        str(work_dir), '--quiet'
    ] + _quickstart_options(toy_root, pretrained_dir)
    log = run_tool(command + ['--prompt-types', 'p3', 'p1', '--save-masks'])
    dataset = toy_root.name
    rows = _read_csv(work_dir / 'zero_shot_summary.csv')
    assert [(r['dataset'], r['prompt_type'])
            for r in rows] == [(dataset, 'p1'), (dataset, 'p3')]
    cells = work_dir / 'cells' / dataset
    assert sorted(p.name for p in cells.iterdir()) == ['p1', 'p3']
    assert (cells / 'p1' / 'masks' / 'test_0000.png').is_file()
    # --quiet: the summary, no progress bars or per-cell lines.
    assert f'| {dataset} | 8 |' in log
    assert 'cells:' not in log and f'cell {dataset}/p1' not in log

    # Finished cells of another model (here: other weights) are not mixed.
    before = _cell_files(work_dir)
    other = command + [
        '--prompt-types', 'p1', '--checkpoint',
        str(untrained_checkpoint)
    ]
    log = run_tool(other, expect_fail=True)
    assert ('1 finished cell(s) in the work dir were computed with another '
            'model, checkpoint or dataset config') in log
    # The tool cuts each value's repr at 60 characters.
    assert (f'{dataset}/p1: checkpoint: None -> '
            f'{str(untrained_checkpoint)!r:.60}') in log
    assert _cell_files(work_dir) == before
    run_tool(other + ['--overwrite'])
    saved = json.loads((cells / 'p1' / 'metrics.json').read_text())
    assert saved['fingerprint']['checkpoint'] == str(untrained_checkpoint)
    # The masks of the old weights went with their cell.
    assert not (cells / 'p1' / 'masks').exists()
    assert _cell_files(work_dir)['cells/' + dataset + '/p3/metrics.json'] \
        == before['cells/' + dataset + '/p3/metrics.json']


def _run_in_process(monkeypatch, *args):
    """The tool's main() in this process: quicker for what fails early."""
    spec = importlib.util.spec_from_file_location('zero_shot',
                                                  osp.join(REPO, ZERO_SHOT))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, 'argv', [ZERO_SHOT, *map(str, args)])
    module.main()


def test_what_cannot_be_scored_is_refused(toy_root, tmp_path, monkeypatch):
    work_dir = tmp_path / 'work'
    command = [QUICKSTART_CONFIG, '--work-dir', work_dir]
    with pytest.raises(
            ValueError, match=f'{QUICKSTART_CONFIG} has no '
            'test_dataloader'):
        _run_in_process(monkeypatch, *command, '--cfg-options',
                        'test_dataloader=None')
    with pytest.raises(
            ValueError,
            match='model type EncoderDecoder of .* '
            'is not a TextPromptedSegmentor'):
        _run_in_process(monkeypatch, *command, '--cfg-options',
                        'model.type=EncoderDecoder')

    with pytest.raises(
            ValueError,
            match=f"unknown prompt type 'p7' for dataset '{toy_root.name}' "
            r'\(test set of .*\): all of its records lack it; the keys all '
            'its records have are p0, p1, p2, p3, p4$'):
        _run_in_process(monkeypatch, *command, '--prompt-types', 'p1', 'p7',
                        '--cfg-options',
                        f'test_dataloader.dataset.data_root={toy_root}')
    data = tmp_path / 'data'
    shutil.copytree(toy_root, data)
    records = json.loads((data / 'anns' / 'test.json').read_text())
    del records[2]['prompts']['p4']
    (data / 'anns' / 'test.json').write_text(json.dumps(records))
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={data}']
    with pytest.raises(
            ValueError,
            match="'p4' .* some of its records lack "
            'it; the keys all its records have are p0, p1, p2, '
            'p3$'):
        _run_in_process(monkeypatch, *command, '--prompt-types', 'p4',
                        *options)
    (data / 'images' / 'test_0003.png').unlink()
    with pytest.raises(
            FileNotFoundError,
            match=f'not found: {data}/images/test_0003.png'):
        _run_in_process(monkeypatch, *command, *options)
    assert not work_dir.exists()


def test_a_replaced_checkpoint_invalidates_finished_cells(tmp_path):
    """Same path, same size, same modification time, other weights."""
    from mmengine.config import Config
    spec = importlib.util.spec_from_file_location('zero_shot',
                                                  osp.join(REPO, ZERO_SHOT))
    zero_shot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zero_shot)
    dataset = zero_shot.ScoredDataset(
        'toy',
        'toy.py',
        Config(dict(model=dict(type='CLIPSeg'))),
        members=[dict(type='MedVLSMDataset', ann_file='anns/test.json')])
    checkpoint = tmp_path / 'epoch_1.pth'
    checkpoint.write_bytes(b'old weights')
    old = zero_shot.fingerprint(
        dataset, 'p1', zero_shot.checkpoint_fingerprint(str(checkpoint)))
    stat = checkpoint.stat()
    checkpoint.write_bytes(b'new weights')
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    new_weights = zero_shot.checkpoint_fingerprint(str(checkpoint))
    assert new_weights['checkpoint'] == old['checkpoint'] == str(checkpoint)
    new = zero_shot.fingerprint(dataset, 'p1', new_weights)
    cell = zero_shot.Cell(dataset, 'p1', str(tmp_path / 'cell'), new)
    with pytest.raises(
            ValueError,
            match=r'1 finished cell\(s\) in the work dir were computed with '
            r'another model, checkpoint or dataset config \(saved -> now\):'
            # Each value's repr cut at 60 characters.
            rf"\n  toy/p1: checkpoint_sha256: '{old['checkpoint_sha256'][:59]} "
            rf"-> '{new['checkpoint_sha256'][:59]}\n"):
        zero_shot.check_fingerprints([cell], {0: dict(fingerprint=old)})
    # The same weights again (here: the old bytes back) are reused.
    checkpoint.write_bytes(b'old weights')
    zero_shot.check_fingerprints([
        zero_shot.Cell(
            dataset, 'p1', cell.folder,
            zero_shot.fingerprint(
                dataset, 'p1', zero_shot.checkpoint_fingerprint(
                    str(checkpoint))))
    ], {0: dict(fingerprint=old)})
    assert zero_shot.checkpoint_fingerprint(None) == dict(
        checkpoint=None, checkpoint_sha256=None)
