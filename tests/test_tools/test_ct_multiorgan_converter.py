# Copyright (c) OpenMMLab. All rights reserved.
import csv
import filecmp
import importlib.util
import json
import os
import os.path as osp

import cv2
import nibabel as nib
import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from mmvlsm.datasets import load_volume_annotations
from mmvlsm.datasets.transforms import (LoadVolumeAnnotations,
                                        LoadVolumeFromFile)
from mmvlsm.datasets.volumes import read_volume
from .conftest import REPO, refuses_to_replace_input

SCRIPT = osp.join(REPO, 'tools', 'dataset_converters', 'ct_multiorgan.py')
spec = importlib.util.spec_from_file_location('ct_multiorgan', SCRIPT)
converter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(converter)

# Raw volumes are 20 x 16 x 4 voxels of 2.5 x 2.5 x 5 mm, so resampling to
# 1.25 x 1.25 x 2.5 mm doubles every axis (voxel i -> 2i, 2i + 1) and
# padding to 280 x 280 adds (280 - 40) // 2 = 120 columns before x and
# (280 - 32) // 2 = 124 rows before y (a PNG is the transposed slice).
SHAPE, SPACING = (20, 16, 4), (2.5, 2.5, 5.0)
PAD_X, PAD_Y = 120, 124
# Blocks: (x0, x1, y0, y1, z0, z1) inclusive voxel ranges, HU, raw label.
LIVER = ((4, 9, 2, 5, 1, 2), 1000, 6)
PANCREAS = ((12, 17, 8, 13, 0, 3), -1000, 11)
RIGHT_KIDNEY = ((0, 1, 0, 1, 0, 3), 500, 2)  # not kept: background
DUODENUM = ((15, 18, 0, 3, 3, 3), 0, 14)
MULTIORGAN_BLOCKS = (LIVER, PANCREAS, RIGHT_KIDNEY, DUODENUM)
TCIA_IDS = ('0001', '0002', '0003', '0004', '0005')
BTCV_IDS = ('0001', '0002', '0003', '0005', '0008')
# CT-ORG: raw label -> class; volume-3 has no liver and is dropped.
CTORG_IDS = ('0', '1', '2', '3', '10')
CTORG_BLOCKS = (((4, 9, 2, 5, 1, 2), 100, 1), ((12, 17, 8, 13, 0, 3), 1000, 5),
                ((0, 3, 10, 15, 0, 3), 30, 6))


def save_nifti(path, data, spacing=SPACING):
    nib.save(nib.Nifti1Image(data, np.diag([*spacing, 1.0])), str(path))


def make_volume(blocks, background=0.0):
    image = np.full(SHAPE, background, np.float32)
    labels = np.zeros(SHAPE, np.uint8)
    for (x0, x1, y0, y1, z0, z1), hu, label in blocks:
        image[x0:x1 + 1, y0:y1 + 1, z0:z1 + 1] = hu
        labels[x0:x1 + 1, y0:y1 + 1, z0:z1 + 1] = label
    return image, labels


def make_multiorgan(root):
    """Gibson et al.'s layout: 5 TCIA and 5 BTCV subjects."""
    image, labels = make_volume(MULTIORGAN_BLOCKS)
    for sub in ('image_tcia_multiorgan', 'label_tcia_multiorgan',
                'image_btcv_multiorgan', 'label_btcv_multiorgan'):
        (root / sub).mkdir(parents=True)
    for i in TCIA_IDS:
        save_nifti(root / 'image_tcia_multiorgan' / f'PANCREAS_{i}.nii', image)
        # TCIA labels are stored upside down along z.
        save_nifti(root / 'label_tcia_multiorgan' / f'label{i}.nii.gz',
                   labels[:, :, ::-1].copy())
    for i in BTCV_IDS:
        save_nifti(root / 'image_btcv_multiorgan' / f'img{i}.nii.gz', image)
        save_nifti(root / 'label_btcv_multiorgan' / f'label{i}.nii.gz', labels)
    (root / 'label_btcv_multiorgan' / 'README.txt').write_text('ignored')
    with open(root / 'cropping.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['publisher', 'original_id'] +
                        list(converter.CROP_COLUMNS))
        # Extents within the volume: the 24/3 voxel margins keep it whole.
        for publisher, ids in (('TCIA', TCIA_IDS), ('Synapse', BTCV_IDS)):
            for i in ids:
                writer.writerow([publisher, int(i), 5, 15, 3, 12, 1, 3])
    return root


def make_ctorg(root):
    root.mkdir(parents=True)
    for i in CTORG_IDS:
        blocks = CTORG_BLOCKS[1:] if i == '3' else CTORG_BLOCKS
        image, labels = make_volume(blocks, background=-500)
        save_nifti(root / f'volume-{i}.nii.gz', image)
        save_nifti(root / f'labels-{i}.nii.gz', labels)
    return root


def load(out, split):
    return json.loads((out / 'anns' / f'{split}.json').read_text())


def read_png(out, folder, name):
    return cv2.imread(str(out / folder / name), cv2.IMREAD_UNCHANGED)


def expected_split(names):
    train_val, test = train_test_split(
        names, test_size=0.2, shuffle=True, random_state=1)
    train, val = train_test_split(
        train_val, test_size=0.1 / 0.8, shuffle=True, random_state=1)
    return dict(train=set(train), val=set(val), test=set(test))


@pytest.fixture(scope='module')
def multiorgan(tmp_path_factory):
    root = make_multiorgan(tmp_path_factory.mktemp('raw') / 'multi-organ')
    out = tmp_path_factory.mktemp('out') / 'tcia_btcv'
    converter.main([
        '--dataset', 'tcia_btcv', '--data-root',
        str(root), '--out-dir',
        str(out)
    ])
    return root, out


def test_helpers():
    # MONAI's split: padding puts the odd voxel after, a crop starts at
    # n // 2 - size // 2.
    vol = np.arange(5 * 3).reshape(5, 3, 1)
    padded = converter.pad_or_crop(vol, (8, 4), -1)
    assert padded.shape == (8, 4, 1)
    assert (padded[:1] == -1).all() and (padded[6:] == -1).all()
    assert (padded[1:6, :3, 0] == vol[:, :, 0]).all()
    assert (padded[:, 3] == -1).all()
    assert (converter.pad_or_crop(vol, (2, 3), 0)[:, :, 0] == vol[1:3, :,
                                                                  0]).all()
    hu = np.array([-3000, -1000, 0, 500, 1000, 2000], np.float32)
    assert converter.HU_WINDOW.resolve(hu).to_uint8(hu).tolist() == [
        0, 0, 128, 191, 255, 255
    ]
    labels = np.arange(4, dtype=np.uint8).reshape(2, 2, 1)
    up = converter.resample(labels, (2, 2, 1), 0, 0, False)
    assert (up == np.kron(labels[:, :, 0], np.ones((2, 2)))[..., None]).all()
    # Downsampling by 2 with anti-aliasing smooths a checkerboard to grey.
    board = (np.indices((8, 8, 1)).sum(0) % 2).astype(np.float32)
    down = converter.resample(board, (0.5, 0.5, 1), 1, 0.0, True)
    assert down.shape == (4, 4, 1)
    assert np.ptp(down[1:3, 1:3]) < 0.1
    assert converter.crop_slices((20, 16, 4), (5, 15, 3, 12, 1, 3), 2,
                                 1) == (slice(3, 17), slice(2,
                                                            15), slice(0, 4))


def test_tcia_btcv(multiorgan):
    root, out = multiorgan
    anns = {split: load(out, split) for split in converter.SPLITS}
    for content in anns.values():
        assert content['metainfo']['classes'] == [
            'background', 'spleen', 'left kidney', 'gallbladder', 'esophagus',
            'liver', 'stomach', 'pancreas', 'duodenum'
        ]
    # Splits: per domain, by subject, 5 subjects -> 3/1/1.
    subjects = {
        split: list(dict.fromkeys(r['subject'] for r in c['data_list']))
        for split, c in anns.items()
    }
    tcia = [f'tcia_{i}' for i in TCIA_IDS]
    btcv = [f'btcv_{i}' for i in BTCV_IDS]
    for names in (tcia, btcv):
        expected = expected_split(names)
        for split in converter.SPLITS:
            assert set(subjects[split]) & set(names) == expected[split]
    assert [len(subjects[s]) for s in converter.SPLITS] == [6, 2, 2]
    # Domain by domain, each in file name order.
    assert subjects['train'] == [
        n for n in tcia + btcv if n in subjects['train']
    ]

    records = sum((c['data_list'] for c in anns.values()), [])
    assert len(records) == 10 * 8  # 4 slices of 5 mm -> 8 of 2.5 mm
    for record in records:
        name = f"{record['subject']}_{record['slice']:03d}.png"
        assert record['img_name'] == record['mask_name'] == name
        mask = read_png(out, 'masks', name)
        image = read_png(out, 'images', name)
        assert mask.shape == image.shape == (280, 280)
        assert mask.dtype == image.dtype == np.uint8
        assert record['labels'] == [v for v in np.unique(mask).tolist() if v]
        z = record['slice']
        # Liver (6 -> 5) on raw slices 1-2, pancreas (11 -> 7) on all,
        # duodenum (14 -> 8) on slice 3; the right kidney (2) is dropped.
        expected = {7} | ({5} if z in (2, 3, 4, 5) else
                          set()) | ({8} if z in (6, 7) else set())
        assert set(record['labels']) == expected, name
    # Voxel-exact labels and windowed intensities on a slice with all.
    mask = read_png(out, 'masks', 'tcia_0002_004.png')
    image = read_png(out, 'images', 'tcia_0002_004.png').astype(int)
    rows = slice(PAD_Y + 4, PAD_Y + 12)  # y 2..5
    cols = slice(PAD_X + 8, PAD_X + 20)  # x 4..9
    assert (mask[rows, cols] == 5).all()
    assert (mask == 5).sum() == 8 * 12
    assert (mask == 7).sum() == 12 * 12 and (mask == 8).sum() == 0
    assert (mask[PAD_Y:PAD_Y + 4, PAD_X:PAD_X + 4] == 0).all()
    # Linear interpolation keeps block interiors exact: 1000 HU -> 255,
    # -1000 -> 0, 500 -> 191 and 0 -> 128.
    assert (image[PAD_Y + 5:PAD_Y + 11, PAD_X + 9:PAD_X + 19] == 255).all()
    assert (image[PAD_Y + 17:PAD_Y + 27, PAD_X + 25:PAD_X + 35] == 0).all()
    assert image[PAD_Y + 1, PAD_X + 1] == 191
    assert image[PAD_Y + 20, PAD_X + 5] == 128
    # Padding takes the minimum (-1000 HU).
    assert image[0, 0] == 0 and image[-1, -1] == 0


def test_nifti_volumes_are_the_slices(multiorgan, tmp_path):
    root, png = multiorgan
    out = tmp_path / 'tcia_btcv_3d'
    converter.main([
        '--dataset', 'tcia_btcv', '--data-root',
        str(root), '--out-dir',
        str(out), '--format', 'nifti'
    ])
    for split in converter.SPLITS:
        volumes = load_volume_annotations(str(out / 'anns' / f'{split}.json'))
        slices = load(png, split)
        assert volumes['metainfo'] == slices['metainfo']
        # The same subjects, in the same order.
        assert [r['subject'] for r in volumes['data_list']] == list(
            dict.fromkeys(r['subject'] for r in slices['data_list']))
        for record in volumes['data_list']:
            subject = record['subject']
            assert record['img_name'] == record['mask_name'] == (
                f'{subject}.nii.gz')
            image = read_volume(out / 'images' / record['img_name'])
            mask = read_volume(out / 'masks' / record['mask_name'])
            assert image.array.dtype == np.int16
            assert mask.array.dtype == np.uint8
            assert image.spacing == mask.spacing == (2.5, 1.25, 1.25)
            # The loaders' (H, W, D) arrays stack the PNGs along D.
            results = LoadVolumeFromFile()(
                dict(img_path=str(out / 'images' / record['img_name'])))
            results = LoadVolumeAnnotations(num_classes=9)(
                dict(
                    results,
                    seg_map_path=str(out / 'masks' / record['mask_name'])))
            names = [
                r['img_name'] for r in slices['data_list']
                if r['subject'] == subject
            ]
            for folder, key in (('images', 'img'), ('masks', 'gt_seg_map')):
                stacked = np.stack(
                    [read_png(png, folder, name) for name in names], -1)
                assert np.array_equal(results[key], stacked), (subject, key)
            assert results['spacing'] == (1.25, 1.25, 2.5)
            assert record['labels'] == [
                v for v in np.unique(results['gt_seg_map']).tolist() if v
            ]


def test_deterministic_and_overwrite(multiorgan, tmp_path):
    root, out = multiorgan
    again = tmp_path / 'again'
    converter.main([
        '--dataset', 'tcia_btcv', '--data-root',
        str(root), '--out-dir',
        str(again)
    ])
    for sub in ('anns', 'images', 'masks'):
        names = sorted(p.name for p in (out / sub).iterdir())
        assert names == sorted(p.name for p in (again / sub).iterdir())
        _, mismatch, errors = filecmp.cmpfiles(
            out / sub, again / sub, names, shallow=False)
        assert not mismatch and not errors, sub
    (again / 'anns' / 'val.json').write_text('old')
    args = [
        '--dataset', 'tcia_btcv', '--data-root',
        str(root), '--out-dir',
        str(again)
    ]
    with pytest.raises(SystemExit, match='--overwrite'):
        converter.main(args)
    assert (again / 'anns' / 'val.json').read_text() == 'old'
    converter.main(args + ['--overwrite'])
    assert load(again, 'val') == load(out, 'val')


def test_crop_flip_and_resampling(multiorgan, tmp_path):
    root, _ = multiorgan
    subjects = converter.find_multiorgan(str(root))
    assert [s.name for s in subjects
            ] == ([f'tcia_{i}'
                   for i in TCIA_IDS] + [f'btcv_{i}' for i in BTCV_IDS])
    tcia = subjects[0]
    assert tcia.extents == (5, 15, 3, 12, 1, 3)
    (tmp_path / 'images').mkdir()
    (tmp_path / 'masks').mkdir()
    # Margins 2/1: x 3..16, y 2..14, z all -> 28 x 26 x 8 after resampling,
    # padded by 126 and 127.
    options = converter.Options(out_dir=str(tmp_path), crop_margin=(2, 1))
    records, _ = converter.process_subject(tcia, options)
    assert len(records) == 8
    mask = read_png(tmp_path, 'masks', 'tcia_0001_003.png')
    ys, xs = np.nonzero(mask == 5)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (127, 134, 128, 139)
    # Without the flip the TCIA labels stay mirrored: the duodenum (raw
    # slice 3) lands on slice 0.
    options = options._replace(tcia_label_flip=False)
    records, _ = converter.process_subject(tcia, options)
    assert [8 in r['labels'] for r in records] == [True] * 2 + [False] * 6
    # Fine in-plane spacing is downsampled: 0.625 mm -> half the voxels.
    image, labels = make_volume(MULTIORGAN_BLOCKS)
    save_nifti(tmp_path / 'fine.nii.gz', image, (0.625, 0.625, 2.5))
    save_nifti(tmp_path / 'fine_label.nii.gz', labels, (0.625, 0.625, 2.5))
    fine = converter.Subject('fine', 'btcv', str(tmp_path / 'fine.nii.gz'),
                             str(tmp_path / 'fine_label.nii.gz'))
    records, log = converter.process_subject(fine, options)
    assert len(records) == 4 and '(10, 8, 4)' in log


def test_ctorg(tmp_path):
    root = make_ctorg(tmp_path / 'OrganSegmentations')
    out = tmp_path / 'ctorg'
    converter.main([
        '--dataset', 'ctorg', '--data-root',
        str(root), '--out-dir',
        str(out)
    ])
    anns = {split: load(out, split) for split in converter.SPLITS}
    assert anns['train']['metainfo']['classes'] == [
        'background', 'liver', 'bladder', 'lungs', 'kidneys', 'bone'
    ]
    # File name order; volume-3 (no liver) is dropped before the split.
    kept = ['ctorg_0', 'ctorg_1', 'ctorg_10', 'ctorg_2']
    expected = expected_split(kept)
    for split, content in anns.items():
        assert {r['subject'] for r in content['data_list']} == expected[split]
        for record in content['data_list']:
            mask = read_png(out, 'masks', record['mask_name'])
            # Brain (6) is background; liver 1 and bone 5 stay.
            assert set(np.unique(mask).tolist()) <= {0, 1, 5}
            assert record['labels'] == [
                v for v in np.unique(mask).tolist() if v
            ]
    assert not (out / 'images' / 'ctorg_3_000.png').exists()


def test_errors(multiorgan, tmp_path):
    root, _ = multiorgan
    args = ['--dataset', 'tcia_btcv', '--out-dir', str(tmp_path / 'out')]
    with pytest.raises(SystemExit, match='folder not found'):
        converter.main(
            args +
            ['--data-root', str(tmp_path / 'none'), '--no-crop'])
    with pytest.raises(SystemExit, match='cropping file not found'):
        converter.main(args + ['--data-root', str(tmp_path)])
    bad = make_multiorgan(tmp_path / 'bad')
    (bad / 'label_btcv_multiorgan' / 'label0005.nii.gz').unlink()
    with pytest.raises(SystemExit, match='img0005.nii.gz has no label'):
        converter.main(args + ['--data-root', str(bad)])
    rows = (bad / 'cropping.csv').read_text().splitlines()
    (bad / 'cropping.csv').write_text('\n'.join(
        r for r in rows if not r.startswith('Synapse,8,')))
    (bad / 'label_btcv_multiorgan' / 'label0005.nii.gz').write_bytes(
        (root / 'label_btcv_multiorgan' / 'label0005.nii.gz').read_bytes())
    with pytest.raises(SystemExit, match='img0008.nii.gz: no Synapse row'):
        converter.main(args + ['--data-root', str(bad)])
    save_nifti(bad / 'label_tcia_multiorgan' / 'label0003.nii.gz',
               np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(SystemExit, match='PANCREAS_0003.nii has shape'):
        converter.main(args + ['--data-root', str(bad), '--no-crop'])
    # A truncated volume is refused, naming the file.
    image = bad / 'image_tcia_multiorgan' / 'PANCREAS_0003.nii'
    image.write_bytes(image.read_bytes()[:-100])
    with pytest.raises(SystemExit, match='PANCREAS_0003.nii: it is truncated'):
        converter.main(args + ['--data-root', str(bad), '--no-crop'])


def test_never_writes_into_its_input_folder(tmp_path, capsys):
    raw = tmp_path / 'OrganSegmentations'
    raw.mkdir()
    (raw / 'volume-0.nii.gz').write_bytes(b'scan')
    os.symlink(raw, tmp_path / 'out')
    message = refuses_to_replace_input(converter.main, [
        '--dataset', 'ctorg', '--data-root', raw, '--out-dir', tmp_path / 'out'
    ], raw / 'volume-0.nii.gz', capsys)
    assert (f'refusing to write the output folder to {tmp_path}/out: it '
            f'would replace the input {raw}') in message
    assert not (raw / 'anns').exists()
