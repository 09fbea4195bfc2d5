# Copyright (c) OpenMMLab. All rights reserved.
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from .conftest import REPO, run_tool

TOOLS = osp.join(REPO, 'tools', 'dataset_converters')
SCRIPT = osp.join(TOOLS, 'medvlsm.py')
sys.path.insert(0, TOOLS)
import medvlsm_chexlocalize as chex  # noqa: E402
import medvlsm_common as common  # noqa: E402

# Portrait radiographs: the short side (width) becomes 512.
H, W = 40, 30
OUT_H, OUT_W = 683, 512  # round(40 * 512 / 30)
SCALE = 512 / W
# CheXpert validation patients are 64541-64740, test patients above.
LAST_VAL_PATIENT = 64740


def _records():
    """Shipped records: one image with several pathologies (train), one
    image of a validation patient and two of test patients."""
    out = {}
    for split, n in (('train', 3), ('test', 3)):
        with open(
                osp.join(REPO, 'data', 'chexlocalize', 'anns',
                         f'{split}.json')) as f:
            out[split] = json.load(f)[:n]
    with open(osp.join(REPO, 'data', 'chexlocalize', 'anns', 'val.json')) as f:
        out['val'] = [
            next(
                r for r in json.load(f)
                if int(r['img_name'][7:12]) <= LAST_VAL_PATIENT)
        ]
    return out


def _box(index):
    """The outline of a record's pathology: a box in original pixels
    (x 4..20, y from 6 + index to 30), closed polygon points."""
    x0, y0, x1, y1 = 4, 6 + index, 20, 30
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def _convert(raw, root, **kwargs):
    return common.convert(
        chex.ChexlocalizeConverter(),
        str(raw),
        str(root),
        log=lambda m: None,
        **kwargs)


def make_case(tmp_path, size=(H, W)):
    records = _records()
    root = tmp_path / 'chexlocalize'
    (root / 'anns').mkdir(parents=True)
    for split, recs in records.items():
        (root / 'anns' / f'{split}.json').write_text(json.dumps(recs))
    raw = tmp_path / 'dl' / 'CheXlocalize'
    outlines = dict(val={}, test={})
    images = {}
    rng = np.random.default_rng(0)
    for index, rec in enumerate(r for recs in records.values() for r in recs):
        image_id = rec['img_name'][:-4]
        patient, study, view = image_id.split('_', 2)
        kind = 'val' if int(patient[7:]) <= LAST_VAL_PATIENT else 'test'
        folder = raw / 'CheXpert-v1.0' / ('valid' if kind == 'val' else
                                          'test') / patient / study
        folder.mkdir(parents=True, exist_ok=True)
        if image_id not in images:
            images[image_id] = rng.integers(0, 256, (H, W), np.uint8)
            cv2.imwrite(str(folder / f'{view}.jpg'), images[image_id])
        pathology = rec['mask_name'][len(image_id) + 1:-4]
        entry = outlines[kind].setdefault(image_id, {'img_size': list(size)})
        entry[pathology.replace('_', ' ').title()] = [_box(index)]
        entry['No Finding Here'] = [_box(0)]  # not named by a record
    for kind, entries in outlines.items():
        (raw / f'gt_annotations_{kind}.json').write_text(json.dumps(entries))
    return root, tmp_path / 'dl', records


def test_convert(tmp_path):
    root, raw, records = make_case(tmp_path)
    out = run_tool([
        sys.executable, SCRIPT, 'chexlocalize',
        str(raw), '--data-root',
        str(root)
    ])
    all_records = [r for recs in records.values() for r in recs]
    n_images = len({r['img_name'] for r in all_records})
    assert f'7 records, {n_images + 7} files written' in out
    for index, rec in enumerate(all_records):
        image = cv2.imread(
            str(root / 'images' / rec['img_name']), cv2.IMREAD_UNCHANGED)
        assert image.shape == (OUT_H, OUT_W)
        with open(root / 'masks' / rec['mask_name'], 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
        mask = cv2.imread(
            str(root / 'masks' / rec['mask_name']), cv2.IMREAD_UNCHANGED)
        assert mask.shape == (OUT_H, OUT_W)
        assert set(np.unique(mask).tolist()) == {0, 255}
        # The filled box covers original pixels x 4..20, y y0..30 (outline
        # included), i.e. [4, 21) x [y0, 31) scaled by 512 / 30.
        ys, xs = np.nonzero(mask)
        y0 = 6 + index
        np.testing.assert_allclose([xs.min(), xs.max() + 1],
                                   [4 * SCALE, 21 * SCALE],
                                   atol=1)
        np.testing.assert_allclose([ys.min(), ys.max() + 1],
                                   [y0 * SCALE, 31 * SCALE],
                                   atol=1)

    # The converted data load as a medvlsm dataset.
    from mmvlsm.datasets import MedVLSMDataset
    from mmvlsm.datasets.transforms import (LoadBinaryMask,
                                            LoadCheckedImageFromFile)
    dataset = MedVLSMDataset(
        data_root=str(root),
        ann_file='anns/train.json',
        pipeline=[LoadCheckedImageFromFile(),
                  LoadBinaryMask()])
    sample = dataset[1]
    assert sample['img'].shape == (OUT_H, OUT_W, 3)
    assert sample['gt_seg_map'].shape == (OUT_H, OUT_W)


def test_size_mismatch_and_missing_outline(tmp_path):
    root, raw, records = make_case(tmp_path, size=(H + 10, W))
    with pytest.raises(common.MissingSourceError) as err:
        _convert(raw, root)
    msg = str(err.value)
    assert '7 of 7 records' in msg
    assert f'is {W}x{H} but its outlines are drawn on {W}x{H + 10}' in msg
    assert not (root / 'images').exists()
    # A record whose pathology has no outline names what is missing.
    root, raw, records = make_case(tmp_path / 'again')
    rec = records['test'][0]
    rec['mask_name'] = rec['img_name'][:-4] + '_pneumothorax.png'
    (root / 'anns' / 'test.json').write_text(json.dumps(records['test']))
    with pytest.raises(
            common.MissingSourceError,
            match='no pneumothorax outline of ' + rec['img_name'][:-4]):
        _convert(raw, root)
    # Malformed outlines and unreadable images or JSON are named.
    anns = raw / 'CheXlocalize' / 'gt_annotations_test.json'
    outlines = json.loads(anns.read_text())
    image_id = records['test'][1]['img_name'][:-4]
    first = records['test'][1]['mask_name'][len(image_id) + 1:-4].replace(
        '_', ' ').title()
    outlines[image_id][first] = [[[1, 2, 3]]]
    anns.write_text(json.dumps(outlines))
    with pytest.raises(
            common.MissingSourceError,
            match=f"the '{first}' outline of {image_id} is not an"):
        _convert(raw, root, splits=['test'])
    patient, study, view = image_id.split('_', 2)
    image = next((raw / 'CheXlocalize' /
                  'CheXpert-v1.0').glob(f'*/{patient}/{study}/{view}.jpg'))
    image.write_bytes(b'not a jpeg')
    with pytest.raises(common.MissingSourceError, match='cannot read'):
        _convert(raw, root, splits=['test'])
    anns.write_text('{"truncated": ')
    with pytest.raises(
            ValueError, match='gt_annotations_test.json is not valid JSON'):
        _convert(raw, root)
    # Without annotation files nothing can be drawn.
    for kind in ('val', 'test'):
        (raw / 'CheXlocalize' / f'gt_annotations_{kind}.json').unlink()
    with pytest.raises(FileNotFoundError, match='gt_annotations_val.json'):
        _convert(raw, root)


def test_resized_size():
    assert chex.resized_size(2320, 2828) == (512, 624)
    assert chex.resized_size(3000, 2000) == (768, 512)
    assert chex.resized_size(512, 700) == (512, 700)
