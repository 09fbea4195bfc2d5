# Copyright (c) OpenMMLab. All rights reserved.
import json
import os.path as osp
import re
import shutil
import sys

import cv2
import numpy as np
import pytest
import SimpleITK as sitk
from mmengine.config import Config

from .conftest import REPO, run_tool

TOOLS = osp.join(REPO, 'tools', 'dataset_converters')
SCRIPT = osp.join(TOOLS, 'medvlsm.py')
sys.path.insert(0, TOOLS)
import medvlsm_camus as camus  # noqa: E402
import medvlsm_common as common  # noqa: E402

H, W = 30, 40
# What the shipped prompts say of patient 1 in each folder (both views).
INFOS = {
    'training/patient0001': dict(Sex='F', Age='56', ImageQuality='Good'),
    'testing/patient0001': dict(Sex='M', Age='73', ImageQuality='Good'),
    'training/patient0051': dict(Sex='M', Age='61', ImageQuality='Poor'),
}


def _shipped(split, patient='patient0001'):
    with open(osp.join(REPO, 'data', 'camus', 'anns', f'{split}.json')) as f:
        return [r for r in json.load(f) if r['img_name'].startswith(patient)]


def _label_map(seed):
    """LV cavity (an ellipse, 3x longer than wide), a myocardium ring
    around it and a left atrium box below, shifted by ``seed``."""
    labels = np.zeros((H, W), np.uint8)
    centre = (12 + seed, 12)
    cv2.ellipse(labels, centre, (5, 10), 0, 0, 360, 2, -1)
    cv2.ellipse(labels, centre, (3, 9), 0, 0, 360, 1, -1)
    labels[24:29, 8 + seed:18 + seed] = 3
    return labels


def _write(path, array):
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))


def make_download(tmp_path, ext='.mhd', infos=INFOS):
    """A CAMUS download with the patients of INFOS and their arrays."""
    raw, arrays, seed = tmp_path / 'raw', {}, 0
    rng = np.random.default_rng(0)
    for folder, info in infos.items():
        patient_dir = raw / folder
        patient_dir.mkdir(parents=True)
        patient = osp.basename(folder)
        file_ext = '.nii.gz' if patient == 'patient0051' else ext
        for view in ('2CH', '4CH'):
            (patient_dir / f'Info_{view}.cfg').write_text(
                'ED: 1\nES: 12\nNbFrame: 12\n' +
                ''.join(f'{k}: {v}\n' for k, v in info.items()) +
                'LVedv: 100.0\n')
            for phase in ('ED', 'ES'):
                stem = f'{patient}_{view}_{phase}'
                image = rng.integers(0, 256, (H, W), np.uint8)
                labels = _label_map(seed % 5)
                seed += 1
                _write(patient_dir / f'{stem}{file_ext}', image)
                _write(patient_dir / f'{stem}_gt{file_ext}', labels)
                arrays[folder, stem] = image, labels
    return raw, arrays


def make_root(tmp_path):
    root = tmp_path / 'camus'
    (root / 'anns').mkdir(parents=True)
    for split in ('val', 'test'):
        (root / 'anns' / f'{split}.json').write_text(
            json.dumps(_shipped(split)))
    return root


@pytest.mark.parametrize('split,info', [('val', INFOS['training/patient0001']),
                                        ('test',
                                         INFOS['testing/patient0001'])])
def test_prompts_match_shipped(split, info):
    """The templates give medvlsm's wording of every prompt, with the
    shape word (a VQA answer upstream) taken from the shipped p7."""
    records = _shipped(split)
    assert len(records) == 12
    for rec in records:
        _, view, phase = osp.splitext(rec['img_name'])[0].split('_')
        label = int(rec['mask_name'][len('mask_')])
        shape = re.search(r' of (\w+) shape', rec['prompts']['p7'][0])[1]
        assert camus.camus_prompts(camus.STRUCTURES[label - 1], view, phase,
                                   info, shape) == rec['prompts']


def test_convert_builds_train_split(tmp_path):
    raw, arrays = make_download(tmp_path)
    root = make_root(tmp_path)
    out = run_tool(
        [sys.executable, SCRIPT, 'camus',
         str(raw), '--data-root',
         str(root)])
    # 12 records each: train (patient 51), val and test (patient 1).
    assert '36 records, 48 files written' in out
    assert 'train.json: 12 records of 1 training patients' in out
    with open(root / 'anns' / 'train.json') as f:
        train = json.load(f)
    assert [r['img_name'] for r in train[:4]
            ] == ['patient0051_2CH_ED.png'] * 3 + ['patient0051_2CH_ES.png']
    assert [r['mask_name'] for r in train[:3]] == [
        f'mask_{k}/patient0051_2CH_ED_gt.png' for k in (1, 2, 3)
    ]
    first = train[0]['prompts']
    assert first['p6'] == [
        'Left ventricular cavity in two-chamber view of the heart at end of '
        'the diastole cycle of a sixty-one-year-old male with poor image '
        'quality.',
        'Left ventricular cavity in two-chamber view in the cardiac '
        'ultrasound at end of the diastole cycle of a sixty-one-year-old male '
        'with poor image quality.'
    ]
    # p7's shape is measured on the outer outline: the cavity and the ring
    # of myocardium are elongated ellipses.
    assert first['p7'][0].startswith('Left ventricular cavity of oval shape')
    assert train[1]['prompts']['p7'][0].startswith('Myocardium of oval shape')
    # Frames and masks, train/val under train/, test under test/.
    for folder, sub in (('training/patient0001', 'train'),
                        ('training/patient0051', 'train'),
                        ('testing/patient0001', 'test')):
        patient = osp.basename(folder)
        for view in ('2CH', '4CH'):
            for phase in ('ED', 'ES'):
                stem = f'{patient}_{view}_{phase}'
                image, labels = arrays[folder, stem]
                png = cv2.imread(
                    str(root / 'images' / sub / f'{stem}.png'),
                    cv2.IMREAD_UNCHANGED)
                np.testing.assert_array_equal(png, image)
                for k in (1, 2, 3):
                    mask = cv2.imread(
                        str(root / 'masks' / sub / f'mask_{k}' /
                            f'{stem}_gt.png'), cv2.IMREAD_UNCHANGED)
                    np.testing.assert_array_equal(mask, (labels == k) * 255)

    # The dataset config's prefixes read the test frames for test.json.
    from mmvlsm.datasets import MedVLSMDataset
    from mmvlsm.datasets.transforms import LoadBinaryMask
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets', 'camus.py'))
    for loader, folder in ((cfg.test_dataloader, 'testing/patient0001'),
                           (cfg.val_dataloader, 'training/patient0001'),
                           (cfg.train_dataloader, 'training/patient0051')):
        dataset = MedVLSMDataset(
            data_root=str(root),
            ann_file=loader.dataset.ann_file,
            data_prefix=loader.dataset.data_prefix,
            pipeline=[LoadBinaryMask()])
        sample = dataset[4]  # 2CH_ES, mask_2
        labels = arrays[folder, sample['img_name'][:-4]][1]
        assert sample['mask_name'].startswith('mask_2/')
        np.testing.assert_array_equal(sample['gt_seg_map'], labels == 2)

    # The analysis tools read the test split's folders: its ground truth as
    # predictions scores 100, the training patient of the same number not.
    preds = tmp_path / 'preds'
    shutil.copytree(root / 'masks' / 'test', preds)
    for mask_dir, perfect in (('masks/test', True), ('masks/train', False)):
        run_tool([
            sys.executable, 'tools/analysis_tools/evaluate_masks.py',
            str(preds), '--data-root',
            str(root), '--mask-dir', mask_dir, '--out',
            str(tmp_path / mask_dir)
        ])
        scores = json.loads(
            (tmp_path / mask_dir / 'metrics.json').read_text())
        assert (scores['mDice'] == 100.0) == perfect
    run_tool([
        sys.executable, 'tools/analysis_tools/overlay_grid.py',
        str(preds), '--data-root',
        str(root), '--image-dir', 'images/test', '--mask-dir', 'masks/test',
        '--num', '2', '--out',
        str(tmp_path / 'grid.png')
    ])
    assert cv2.imread(str(tmp_path / 'grid.png')) is not None


def test_wrong_patient_is_reported(tmp_path):
    """A testing patient filed as training patient 1 contradicts val.json's
    prompts; nothing is written then."""
    infos = dict(INFOS)
    infos['training/patient0001'] = INFOS['testing/patient0001']
    raw, _ = make_download(tmp_path, infos=infos)
    root = make_root(tmp_path)
    with pytest.raises(common.MissingSourceError) as err:
        common.convert(
            camus.CamusConverter(),
            str(raw),
            str(root),
            splits=['val', 'test'],
            log=lambda m: None)
    msg = str(err.value)
    assert '12 of 24 records' in msg and 'val.json record 0' in msg
    assert 'Info_2CH.cfg gives Sex M, Age 73, ImageQuality Good' in msg
    assert not (root / 'images').exists()
    report = common.convert(
        camus.CamusConverter(check_prompts=False),
        str(raw),
        str(root),
        splits=['val', 'test'],
        log=lambda m: None)
    assert report.written == 2 * 4 + 2 * 12


def test_bad_sources(tmp_path):
    raw, _ = make_download(tmp_path)
    root = make_root(tmp_path)
    # No val.json: train.json cannot be kept patient-disjoint from it.
    (root / 'anns' / 'val.json').unlink()
    with pytest.raises(FileNotFoundError, match='val.json is needed'):
        common.convert(
            camus.CamusConverter(), str(raw), str(root), log=lambda m: None)
    # A missing label map is named with the folder searched.
    (root / 'anns' / 'val.json').write_text(json.dumps(_shipped('val')))
    (raw / 'testing' / 'patient0001' /
     'patient0001_4CH_ES_gt.mhd').unlink()
    with pytest.raises(common.MissingSourceError,
                       match='mask has no source .*patient0001_4CH_ES_gt'):
        common.convert(
            camus.CamusConverter(),
            str(raw),
            str(root),
            splits=['test'],
            log=lambda m: None)
    # A label map with other labels, or of another size, is refused.
    bad = np.zeros((H, W), np.uint8)
    bad[0, 0] = 7
    _write(tmp_path / 'bad_gt.mhd', bad)
    _write(tmp_path / 'frame.mhd', np.zeros((H, W), np.uint8))
    with pytest.raises(ValueError, match=r'bad_gt.mhd holds labels \[7\]'):
        camus.write_structure(
            str(tmp_path / 'bad_gt.mhd'), 1, str(tmp_path / 'frame.mhd'),
            str(tmp_path / 'out.png'))
    _write(tmp_path / 'small.mhd', np.zeros((H, W - 1), np.uint8))
    with pytest.raises(ValueError, match=f'is {W}x{H} but its frame'):
        camus.write_structure(
            str(raw / 'training' / 'patient0051' /
                'patient0051_2CH_ED_gt.nii.gz'), 1,
            str(tmp_path / 'small.mhd'), str(tmp_path / 'out.png'))
    # An unreadable volume names itself.
    (tmp_path / 'broken.mhd').write_text('NDims = 2\nnot a header\n')
    with pytest.raises(ValueError, match='Cannot read .*broken.mhd'):
        camus.write_frame(
            str(tmp_path / 'broken.mhd'), str(tmp_path / 'out.png'))
    # A malformed Info file names itself.
    info = raw / 'training' / 'patient0051' / 'Info_2CH.cfg'
    info.write_text('Sex: X\nAge: 61\n')
    (root / 'anns' / 'train.json').unlink(missing_ok=True)
    with pytest.raises(ValueError, match='Info_2CH.cfg: expected'):
        common.convert(
            camus.CamusConverter(), str(raw), str(root), log=lambda m: None)
    shutil.rmtree(raw / 'training')
    with pytest.raises(FileNotFoundError, match='training folder'):
        common.convert(
            camus.CamusConverter(), str(raw), str(root), log=lambda m: None)
