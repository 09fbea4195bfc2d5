# Copyright (c) OpenMMLab. All rights reserved.
"""tools/infer.py on volumes: geometry, records, prompts, PUNet, bad input."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import SimpleITK as sitk
import torch
from mmengine.runner import save_checkpoint

from .conftest import REPO
from .test_infer import _infer

PUNET_CONFIG = osp.join(REPO, 'configs', 'punet',
                        'punet-tiny-meta-self_1xb8-200it_toy-organs-64x64.py')
RAS = (-1, 0, 0, 0, -1, 0, 0, 0, 1)


def ct_image(shape=(4, 21, 26), seed=0, direction=RAS):
    rng = np.random.RandomState(seed)
    hu = rng.randint(-1000, 400, shape).astype(np.int16)
    image = sitk.GetImageFromArray(hu)
    image.SetSpacing((0.7, 0.9, 3.0))
    image.SetOrigin((-11.5, 30.25, 102.0))
    image.SetDirection(direction)
    return image


def geometry(image):
    return (image.GetSize(), image.GetSpacing(), image.GetOrigin(),
            image.GetDirection())


@pytest.fixture(scope='module')
def api_model(untrained_checkpoint):
    from mmvlsm.apis import init_model
    from .conftest import QUICKSTART_CONFIG
    return init_model(QUICKSTART_CONFIG, str(untrained_checkpoint))


@pytest.fixture(scope='module')
def punet_checkpoint(tmp_path_factory):
    from mmvlsm.apis import init_model
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('punet') / 'punet.pth'
    save_checkpoint({'state_dict': init_model(PUNET_CONFIG).state_dict()},
                    str(path))
    return path


@pytest.fixture
def scans(tmp_path):
    """A NIfTI (RAS), an NRRD, a MetaImage with its .raw, a 2D image and a
    truncated NIfTI."""
    root = tmp_path / 'scans'
    (root / 'mr').mkdir(parents=True)
    sitk.WriteImage(ct_image(), str(root / 'ct.nii.gz'))
    sitk.WriteImage(
        ct_image(seed=1, direction=(1, 0, 0, 0, 0, 1, 0, -1, 0)),
        str(root / 'mr' / 'knee.nrrd'))
    sitk.WriteImage(ct_image(seed=2), str(root / 'us.mhd'))
    cv2.imwrite(
        str(root / 'photo.png'),
        np.random.RandomState(3).randint(0, 256, (30, 20, 3), np.uint8))
    data = (root / 'ct.nii.gz').read_bytes()
    (root / 'broken.nii.gz').write_bytes(data[:len(data) // 2])
    return root


def test_volumes_and_images_in_one_folder(scans, untrained_checkpoint,
                                          api_model, tmp_path, monkeypatch,
                                          capsys):
    out = tmp_path / 'out'
    code, log = _infer([
        untrained_checkpoint, '--img', scans, '--prompt', 'liver', '--out',
        out, '--window', 'abdomen', '--save-probs', '--output-format', 'input'
    ], monkeypatch, capsys)
    assert code == 0, log
    assert f'skipped: Cannot read volume {scans / "broken.nii.gz"}' in log
    assert '4 masks written, 1 skipped' in log
    from mmvlsm.apis import inference_model
    for name, written in [('ct.nii.gz', 'ct.nii.gz'),
                          ('mr/knee.nrrd', 'mr/knee.nrrd'),
                          ('us.mhd', 'us.mha')]:
        source = sitk.ReadImage(str(scans / name))
        mask = sitk.ReadImage(str(out / written))
        # Exactly the input's geometry, and the API's mask.
        assert geometry(mask) == geometry(source), name
        assert mask.GetPixelID() == sitk.sitkUInt8
        expected = inference_model(
            api_model,
            str(scans / name),
            'liver',
            window='abdomen',
            return_probs=True)
        np.testing.assert_array_equal(
            sitk.GetArrayFromImage(mask), expected.mask_array)
        stem, ext = written.split('.', 1)
        probs = sitk.ReadImage(str(out / f'{stem}_prob.{ext}'))
        assert geometry(probs) == geometry(source)
        assert probs.GetPixelID() == sitk.sitkFloat32
        np.testing.assert_array_equal(
            sitk.GetArrayFromImage(probs), expected.probabilities[0])
        record = json.loads((out / f'{stem}.json').read_text())
        assert record['window'] == dict(
            kind='window',
            name='abdomen',
            level=50.0,
            width=400.0,
            low=-150.0,
            high=250.0)
        assert record['axis'] == 'axial' and record['threshold'] == 0.5
        assert record['legend'] == {'0': 'background', '1': 'liver'}
        assert record['source'] == str(scans / name)
    # The 2D image is a PNG as before; nothing half-written is left.
    assert cv2.imread(str(out / 'photo.png')).shape[:2] == (30, 20)
    assert not [p for p in out.rglob('*') if p.name.startswith('.')]


def test_several_prompts_label_map_or_one_file_each(scans,
                                                    untrained_checkpoint,
                                                    api_model, tmp_path,
                                                    monkeypatch, capsys):
    from mmvlsm.apis import inference_model
    prompts = ['liver', 'left kidney']
    common = [
        untrained_checkpoint, '--img', scans / 'ct.nii.gz', '--axis',
        'coronal', '--prompt', prompts[0], '--prompt', prompts[1]
    ]
    code, log = _infer(common + ['--out', tmp_path / 'map'], monkeypatch,
                       capsys)
    assert code == 0, log
    labels = sitk.ReadImage(str(tmp_path / 'map' / 'ct.nii.gz'))
    expected = inference_model(
        api_model, str(scans / 'ct.nii.gz'), prompts, axis='coronal')
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(labels), expected.mask_array)
    assert set(np.unique(expected.mask_array)) == {0, 1, 2}
    record = json.loads((tmp_path / 'map' / 'ct.json').read_text())
    assert record['legend'] == {
        '0': 'background',
        '1': 'liver',
        '2': 'left kidney'
    }
    assert record['axis'] == 'coronal'
    assert record['window']['kind'] == 'percentile'

    code, log = _infer(
        common + ['--out', tmp_path / 'each', '--one-file-per-prompt'],
        monkeypatch, capsys)
    assert code == 0, log
    for prompt, name in zip(prompts, ['ct_liver', 'ct_left-kidney']):
        mask = sitk.ReadImage(str(tmp_path / 'each' / f'{name}.nii.gz'))
        single = inference_model(
            api_model, str(scans / 'ct.nii.gz'), prompt, axis='coronal')
        np.testing.assert_array_equal(
            sitk.GetArrayFromImage(mask), single.mask_array)
    record = json.loads((tmp_path / 'each' / 'ct.json').read_text())
    assert record['masks'] == {
        'ct_liver.nii.gz': 'liver',
        'ct_left-kidney.nii.gz': 'left kidney'
    }


def test_punet_by_class(scans, punet_checkpoint, tmp_path, monkeypatch,
                        capsys):
    from mmvlsm.apis import inference_model, init_model
    out = tmp_path / 'out'
    code, log = _infer([
        punet_checkpoint, '--img', scans / 'ct.nii.gz', scans / 'photo.png',
        '--class', 'spleen', '--out', out
    ],
                       monkeypatch,
                       capsys,
                       config=PUNET_CONFIG)
    assert code == 0, log
    model = init_model(PUNET_CONFIG, str(punet_checkpoint))
    mask = sitk.ReadImage(str(out / 'ct.nii.gz'))
    assert geometry(mask) == geometry(sitk.ReadImage(str(scans / 'ct.nii.gz')))
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(mask),
        inference_model(model, str(scans / 'ct.nii.gz'), 2).mask_array)
    record = json.loads((out / 'ct.json').read_text())
    assert record['legend'] == {'0': 'background', '1': 'spleen'}
    assert record['threshold'] is None
    # The config's HU window, that of its training slices.
    assert (record['window']['low'], record['window']['high']) == (-1000, 1000)
    np.testing.assert_array_equal(
        cv2.imread(str(out / 'photo.png'), cv2.IMREAD_UNCHANGED),
        inference_model(model, str(scans / 'photo.png'),
                        'spleen').pred_sem_seg.data[0].numpy() * 255)

    for args, message in [
        (['--prompt', 'spleen'], 'prompted by a class, not by text: use '
         '--class NAME|INDEX (classes: liver, spleen, left kidney, right '
         'kidney)'),
        (['--class', 'pancreas'], "unknown class 'pancreas'"),
        (['--class', '7'], 'class index 7 is not one of'),
        (['--class', '2', '--threshold', '0.3'], 'has no threshold'),
    ]:
        code, log = _infer(
            [punet_checkpoint, '--img', scans / 'ct.nii.gz', '--out', out] +
            args,
            monkeypatch,
            capsys,
            config=PUNET_CONFIG)
        assert code and message in log, log


def test_volume_refusals_and_warnings(scans, untrained_checkpoint, tmp_path,
                                      monkeypatch, capsys):
    before = {p: p.read_bytes() for p in scans.rglob('*') if p.is_file()}
    common = [untrained_checkpoint, '--img', scans / 'ct.nii.gz']
    for args, message in [
        (['--prompt', 'x', '--out', scans, '--output-format',
          'input'], 'it would replace that input'),
        (['--prompt', 'x', '--out', tmp_path, '--window', 'liver',
          'x'], '--window liver x: give a name (abdomen, lung, bone, brain, '
         'soft-tissue), LEVEL WIDTH'),
        (['--class', 'liver', '--out',
          tmp_path], 'prompted by text: use --prompt'),
        (['--prompt', 'a', '--prompt', 'a', '--out',
          tmp_path], 'gives a prompt twice'),
    ]:
        code, log = _infer(common + args, monkeypatch, capsys)
        assert code and message in log, log
    assert {
        p: p.read_bytes()
        for p in scans.rglob('*') if p.is_file()
    } == before

    # A volume without a stated spacing: 1 mm, with a warning.
    header = ('NRRD0004\ntype: short\ndimension: 3\nsizes: 6 5 4\n'
              'encoding: raw\nendian: little\n\n').encode()
    (tmp_path /
     'bare.nrrd').write_bytes(header + np.zeros((4, 5, 6), np.int16).tobytes())
    code, log = _infer([
        untrained_checkpoint, '--img', tmp_path / 'bare.nrrd', '--prompt', 'x',
        '--out', tmp_path / 'out'
    ], monkeypatch, capsys)
    assert code == 0, log
    assert f'{tmp_path / "bare.nrrd"} does not state its voxel spacing: ' \
        '1 mm assumed' in log
    # A 4D volume is skipped with its size unless a frame is chosen.
    sitk.WriteImage(
        sitk.JoinSeries([ct_image()] * 3), str(tmp_path / 'cine.nii.gz'))
    code, log = _infer([
        untrained_checkpoint, '--img', tmp_path / 'cine.nii.gz', '--prompt',
        'x', '--out', tmp_path / 'out'
    ], monkeypatch, capsys)
    assert code and 'is 4D (size x, y, z, t = (26, 21, 4, 3)); choose a ' \
        'frame with --frame 0..2' in log
    code, log = _infer([
        untrained_checkpoint, '--img', tmp_path / 'cine.nii.gz', '--prompt',
        'x', '--out', tmp_path / 'out', '--frame', '2'
    ], monkeypatch, capsys)
    assert code == 0, log
    assert sitk.ReadImage(str(tmp_path / 'out' /
                              'cine.nii.gz')).GetSize() == (26, 21, 4)


def test_label_map_and_record_score_with_evaluate_masks(
        scans, untrained_checkpoint, tmp_path, monkeypatch, capsys):
    """tools/infer.py's label map and record go into evaluate_masks.py:
    against itself as ground truth, each named class scores 100."""
    from .test_evaluate_masks import evaluate_masks
    out = tmp_path / 'preds'
    code, log = _infer([
        untrained_checkpoint, '--img', scans / 'ct.nii.gz', '--prompt',
        'liver', '--prompt', 'left kidney', '--out', out
    ], monkeypatch, capsys)
    assert code == 0, log
    (tmp_path / 'gt').mkdir()
    (tmp_path / 'gt' / 'ct.nii.gz').write_bytes(
        (out / 'ct.nii.gz').read_bytes())
    evaluate_masks.main([
        str(out), '--gt-dir',
        str(tmp_path / 'gt'), '--legend',
        str(out / 'ct.json'), '--surface-metrics', '--out',
        str(tmp_path / 'scores')
    ])
    metrics = json.loads((tmp_path / 'scores' / 'metrics.json').read_text())
    assert metrics['liver/mDice'] == metrics['left kidney/mDice'] == 100.0
    assert metrics['liver/mHD95_mm'] == 0.0


def test_dicom_series_folders(untrained_checkpoint, api_model, tmp_path,
                              monkeypatch, capsys):
    from mmvlsm.apis import inference_model
    from mmvlsm.testing import write_dicom_series
    rng = np.random.RandomState(4)
    hu = rng.randint(-1000, 400, (3, 18, 22)).astype(np.int16)
    options = dict(
        spacing=(2.5, 0.8, 0.7),
        origin=(-40.0, 12.0, 300.0),
        rescale=(1.0, -1024.0))
    ct = tmp_path / 'dicom' / 'ct'
    first = write_dicom_series(
        hu, str(ct), description='abdomen', file_prefix='a', **options)
    out = tmp_path / 'out'
    code, log = _infer([
        untrained_checkpoint, '--img', tmp_path / 'dicom', '--prompt', 'liver',
        '--out', out, '--window', '40', '400'
    ], monkeypatch, capsys)
    assert code == 0, log
    # Named after the folder, with the series' geometry: to float32 in
    # NIfTI, exactly in MetaImage (--output-format input).
    mask = sitk.ReadImage(str(out / 'ct.nii.gz'))
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(ct)))
    series = reader.Execute()
    assert mask.GetSize() == series.GetSize()
    for got, want in zip(geometry(mask)[1:], geometry(series)[1:]):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)
    code, log = _infer([
        untrained_checkpoint, '--img', ct, '--prompt', 'liver', '--out',
        tmp_path / 'exact', '--window', '40', '400', '--output-format', 'input'
    ], monkeypatch, capsys)
    assert code == 0, log
    exact = sitk.ReadImage(str(tmp_path / 'exact' / 'ct.mha'))
    assert geometry(exact) == geometry(series)
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(exact), sitk.GetArrayFromImage(mask))
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(mask),
        inference_model(api_model, str(ct), 'liver',
                        window=(40, 400)).mask_array)
    record = json.loads((out / 'ct.json').read_text())
    assert record['series_uid'] == first
    assert record['window']['low'] == -160.0

    # A second series in the folder: skipped with both listed, unless one
    # is chosen.
    second = write_dicom_series(
        hu[:2], str(ct), description='lung', file_prefix='b', **options)
    code, log = _infer([
        untrained_checkpoint, '--img', ct, '--prompt', 'liver', '--out',
        tmp_path / 'out2'
    ], monkeypatch, capsys)
    assert code and 'holds 2 DICOM series; choose one with --series' in log
    assert f'{first} "abdomen", 3 slices' in log
    assert f'{second} "lung", 2 slices' in log
    code, log = _infer([
        untrained_checkpoint, '--img', ct, '--prompt', 'liver', '--out',
        tmp_path / 'out2', '--series', second
    ], monkeypatch, capsys)
    assert code == 0, log
    assert sitk.ReadImage(str(tmp_path / 'out2' /
                              'ct.nii.gz')).GetSize() == (22, 18, 2)
