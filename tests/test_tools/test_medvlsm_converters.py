# Copyright (c) OpenMMLab. All rights reserved.
import importlib.util
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from .conftest import REPO, run_tool

TOOLS = osp.join(REPO, 'tools', 'dataset_converters')
SCRIPT = osp.join(TOOLS, 'medvlsm.py')
sys.path.insert(0, TOOLS)
spec = importlib.util.spec_from_file_location('medvlsm_converter', SCRIPT)
medvlsm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(medvlsm)
common = sys.modules['medvlsm_common']

H, W = 24, 32


def _busi(name, mask):
    num, cls = name[:-4].rsplit('_', 1)
    return f'Dataset_BUSI_with_GT/{cls}/{cls} ({num}){mask}.png'


def _stem(name):
    return osp.splitext(name)[0]


# dataset -> (raw image path, raw mask path, colour mask) from a record.
LAYOUTS = {
    'kvasir_polyp': (lambda r: f'Kvasir-SEG/images/{r["img_name"]}',
                     lambda r: f'Kvasir-SEG/masks/{r["mask_name"]}', False),
    'clinicdb_polyp':
    (lambda r: f'Original/{_stem(r["img_name"])}.tif',
     lambda r: f'Ground Truth/{_stem(r["mask_name"])}.tif', False),
    'bkai_polyp': (lambda r: f'train/train/{r["img_name"]}',
                   lambda r: f'train_gt/train_gt/{r["mask_name"]}', True),
    'colondb_polyp':
    (lambda r: f'TestDataset/CVC-ColonDB/images/{r["img_name"]}',
     lambda r: f'TestDataset/CVC-ColonDB/masks/{r["mask_name"]}', False),
    'cvc300_polyp':
    (lambda r: f'TestDataset/CVC-ColonDB/images/{r["img_name"]}',
     lambda r: f'TestDataset/CVC-ColonDB/masks/{r["mask_name"]}', False),
    'etis_polyp':
    (lambda r: f'TestDataset/ETIS-LaribPolypDB/images/{r["img_name"]}',
     lambda r: f'TestDataset/ETIS-LaribPolypDB/masks/{r["mask_name"]}', False),
    'isic': (lambda r: f'ISBI2016_ISIC_Part1_Training_Data/{r["img_name"]}',
             lambda r: 'ISBI2016_ISIC_Part1_Training_GroundTruth/'
             f'{r["mask_name"]}', False),
    'dfu': (lambda r: f'DFUC2022_train_images/{r["img_name"]}',
            lambda r: f'DFUC2022_train_masks/{r["mask_name"]}', False),
    'busi': (lambda r: _busi(r['img_name'], ''),
             lambda r: _busi(r['mask_name'], '_mask'), False),
}


def make_case(tmp_path, ds, n=3):
    """A data root with n shipped records and a fake download for them."""
    records = {}
    for split in ('train', 'test'):
        with open(osp.join(REPO, 'data', ds, 'anns', f'{split}.json')) as f:
            records[split] = json.load(f)[:n]
    if ds == 'busi':  # a normal (empty mask) and a tumour
        with open(osp.join(REPO, 'data', ds, 'anns', 'train.json')) as f:
            recs = json.load(f)
        records['train'] = [
            next(r for r in recs if 'normal' in r['img_name']),
            next(r for r in recs if 'benign' in r['img_name'])
        ]
    root = tmp_path / ds
    (root / 'anns').mkdir(parents=True)
    for split, recs in records.items():
        (root / 'anns' / f'{split}.json').write_text(json.dumps(recs))
    raw = tmp_path / 'raw'
    img_of, mask_of, colour = LAYOUTS[ds]
    rng = np.random.default_rng(0)
    for recs in records.values():
        for rec in recs:
            img_path = raw / img_of(rec)
            img_path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(
                str(img_path), rng.integers(0, 255, (H, W, 3), np.uint8))
            mask = np.zeros((H, W, 3), np.uint8)
            if 'normal' not in rec['img_name']:
                mask[4:12, 5:15] = (0, 0, 255) if colour else 255
                mask[14:20, 18:28] = (0, 255, 0) if colour else 255
            mask_path = raw / mask_of(rec)
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(mask_path), mask if colour else mask[..., 0])
    return root, raw, records


def check_output(root, records, ds):
    from mmvlsm.datasets import MedVLSMDataset
    from mmvlsm.datasets.transforms import (LoadBinaryMask,
                                            LoadCheckedImageFromFile)
    for split, recs in records.items():
        for rec in recs:
            img = cv2.imread(str(root / 'images' / rec['img_name']))
            assert img is not None and img.shape == (H, W, 3)
            with open(root / 'masks' / rec['mask_name'], 'rb') as f:
                assert f.read(8) == b'\x89PNG\r\n\x1a\n'  # PNG by content
            mask = cv2.imread(
                str(root / 'masks' / rec['mask_name']), cv2.IMREAD_UNCHANGED)
            assert mask.dtype == np.uint8 and mask.shape == (H, W)
            values = set(np.unique(mask).tolist())
            if 'normal' in rec['img_name']:
                assert values == {0}
            else:
                assert values == {0, 255}
                assert mask[8, 10] == 255 and mask[17, 22] == 255
                assert mask[0, 0] == 0 and mask[22, 2] == 0
        ds_obj = MedVLSMDataset(
            data_root=str(root),
            ann_file=f'anns/{split}.json',
            pipeline=[LoadCheckedImageFromFile(),
                      LoadBinaryMask()])
        assert len(ds_obj) == len(recs)
        for i in range(len(recs)):
            sample = ds_obj[i]
            assert sample['gt_seg_map'].shape == (H, W)
            assert sample['gt_seg_map'].max() == (
                0 if 'normal' in recs[i]['img_name'] else 1)


@pytest.mark.parametrize('ds', sorted(LAYOUTS))
def test_convert(tmp_path, ds):
    root, raw, records = make_case(tmp_path, ds)
    logs = []
    report = common.convert(
        medvlsm.SPECS[ds](), str(raw), str(root), log=logs.append)
    assert report.skipped == []
    n_files = len({(r['img_name'], r['mask_name'])
                   for recs in records.values()
                   for r in recs})
    assert report.written == 2 * n_files
    assert any(f'[{report.written}/{report.written}]' in m for m in logs)
    if ds == 'cvc300_polyp':
        assert any('ColonDB' in m for m in logs)
    check_output(root, records, ds)
    # Existing files are kept unless overwrite.
    again = common.convert(
        medvlsm.SPECS[ds](), str(raw), str(root), log=logs.append)
    assert again.written == 0 and again.kept == 2 * n_files
    again = common.convert(
        medvlsm.SPECS[ds](),
        str(raw),
        str(root),
        overwrite=True,
        log=logs.append)
    assert again.written == 2 * n_files


def test_busi_merges_masks(tmp_path):
    root, raw, records = make_case(tmp_path, 'busi')
    rec = records['train'][1]
    extra = np.zeros((H, W), np.uint8)
    extra[0:2, 0:3] = 255
    cv2.imwrite(str(raw / _busi(rec['mask_name'], '_mask_1')), extra)
    common.convert(
        medvlsm.SPECS['busi'](), str(raw), str(root), log=lambda m: None)
    mask = cv2.imread(str(root / 'masks' / rec['mask_name']), 0)
    assert mask[0, 0] == 255 and mask[8, 10] == 255


def test_missing_source(tmp_path):
    root, raw, records = make_case(tmp_path, 'kvasir_polyp')
    missing = records['test'][1]
    os.remove(raw / 'Kvasir-SEG' / 'masks' / missing['mask_name'])
    with pytest.raises(common.MissingSourceError) as err:
        common.convert(
            medvlsm.SPECS['kvasir_polyp'](),
            str(raw),
            str(root),
            log=lambda m: None)
    msg = str(err.value)
    assert '1 of 6 records' in msg and 'test.json record 1' in msg
    assert f"mask '{missing['mask_name']}' has no source" in msg
    assert '--skip-missing' in msg
    assert not (root / 'images').exists()  # nothing written
    # The CLI reports it and exits with 1; --skip-missing converts the rest.
    out = run_tool([
        sys.executable, SCRIPT, 'kvasir_polyp',
        str(raw), '--data-root',
        str(root)
    ],
                   expect_fail=True)
    assert 'has no source' in out
    out = run_tool([
        sys.executable, SCRIPT, 'kvasir_polyp',
        str(raw), '--data-root',
        str(root), '--skip-missing'
    ])
    assert '10 files written' in out and '1 records skipped' in out
    assert not (root / 'images' / missing['img_name']).exists()
    assert (root / 'masks' / records['test'][0]['mask_name']).exists()


def test_missing_raw_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match='Download folder'):
        common.convert(medvlsm.SPECS['dfu'](), str(tmp_path / 'nope'),
                       str(tmp_path))


def test_never_writes_into_the_download(tmp_path, capsys):
    raw = tmp_path / 'Kvasir-SEG'
    (raw / 'images').mkdir(parents=True)
    (raw / 'images' / 'a.jpg').write_bytes(b'image')
    assert medvlsm.main(
        ['kvasir_polyp', f'{raw}/.', '--data-root',
         str(raw), '--overwrite']) == 2
    assert (f'ERROR: refusing to write --data-root to {raw}: it would '
            f'replace the input {raw}/.') in capsys.readouterr().err
    assert (raw / 'images' / 'a.jpg').read_bytes() == b'image'
