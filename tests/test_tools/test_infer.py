# Copyright (c) OpenMMLab. All rights reserved.
"""tools/infer.py on a folder of awkward images, end to end."""
import os.path as osp
import runpy
import sys

import cv2
import numpy as np
import pytest

from .conftest import QUICKSTART_CONFIG, REPO, run_tool

INFER = [sys.executable, 'tools/infer.py', QUICKSTART_CONFIG]


@pytest.fixture
def images(tmp_path):
    """Odd sizes, grey, RGBA, 16-bit, a JPEG in a sub-folder, a PNG that
    is text, and a file that is not an image."""
    rng = np.random.RandomState(0)
    root = tmp_path / 'imgs'
    (root / 'sub').mkdir(parents=True)
    cv2.imwrite(
        str(root / 'odd.png'), rng.randint(0, 256, (37, 53, 3), np.uint8))
    cv2.imwrite(
        str(root / 'grey.png'), rng.randint(0, 256, (40, 30), np.uint8))
    cv2.imwrite(
        str(root / 'rgba.png'), rng.randint(0, 256, (20, 25, 4), np.uint8))
    cv2.imwrite(
        str(root / 'sub' / 'scan16.png'),
        rng.randint(0, 4096, (33, 44), np.uint16))
    cv2.imwrite(
        str(root / 'sub' / 'photo.jpg'),
        rng.randint(0, 256, (50, 61, 3), np.uint8))
    (root / 'broken.png').write_text('this is text, not a PNG')
    (root / 'notes.txt').write_text('not an image either')
    return root


SIZES = {
    'odd.png': (37, 53),
    'grey.png': (40, 30),
    'rgba.png': (20, 25),
    'sub/scan16.png': (33, 44),
    'sub/photo.png': (50, 61),
}


def _masks(out):
    return {
        str(path.relative_to(out)):
        cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        for path in out.rglob('*.png') if 'overlays' not in path.parts
    }


def _api_mask(checkpoint, path, prompt, threshold=None):
    from mmvlsm.apis import inference_model, init_model
    model = init_model(QUICKSTART_CONFIG, str(checkpoint))
    if threshold is not None:
        model.test_cfg['threshold'] = threshold
    pred = inference_model(model, str(path), prompt).pred_sem_seg.data[0]
    return pred.numpy().astype(np.uint8) * 255


def test_folder_of_odd_images(images, untrained_checkpoint, tmp_path):
    out = tmp_path / 'out'
    log = run_tool(INFER + [
        str(untrained_checkpoint), '--img',
        str(images), '--prompt', 'red circle', '--out',
        str(out), '--show', '--batch-size', '2', '--device', 'cpu'
    ])
    masks = _masks(out)
    assert sorted(masks) == sorted(SIZES)
    for name, mask in masks.items():
        assert mask.dtype == np.uint8 and mask.shape == SIZES[name], name
        assert set(np.unique(mask).tolist()) <= {0, 255}
        overlay = cv2.imread(str(out / 'overlays' / name))
        # The image under a banner with the prompt.
        assert overlay.shape[0] > SIZES[name][0], name
    assert f'skipped: Cannot decode image {images / "broken.png"}' in log
    assert 'ignored 1 files that are neither images nor volumes by their ' \
        f'extension: ' \
        f'{images / "notes.txt"}' in log
    assert '5 masks written, 1 skipped' in log
    # Nothing half-written is left, and the masks are those of the API.
    assert not [p for p in out.rglob('*') if p.name.startswith('.')]
    np.testing.assert_array_equal(
        masks['sub/scan16.png'],
        _api_mask(untrained_checkpoint, images / 'sub' / 'scan16.png',
                  'red circle'))


def test_prompts_file_glob_and_threshold(images, untrained_checkpoint,
                                         tmp_path):
    prompts = {
        'odd.png': 'blue square on the left',
        'grey.png': 'green triangle',
        'rgba.png': 'red circle',
        'broken.png': 'anything',
    }
    csv_file = tmp_path / 'prompts.csv'
    csv_file.write_text('image,prompt\n' +
                        ''.join(f'{k},{v}\n' for k, v in prompts.items()) +
                        'elsewhere.png,a shape\n')
    out = tmp_path / 'out'
    log = run_tool(INFER + [
        str(untrained_checkpoint), '--img',
        str(images / '*.png'), '--prompts-file',
        str(csv_file), '--out',
        str(out), '--threshold', '0.52', '--quiet'
    ])
    assert '3 masks written, 1 skipped' in log
    assert '1 rows of' in log and 'elsewhere.png' in log
    assert '%|' not in log  # no progress bar
    masks = _masks(out)
    assert sorted(masks) == ['grey.png', 'odd.png', 'rgba.png']
    expected = _api_mask(untrained_checkpoint, images / 'odd.png',
                         prompts['odd.png'], 0.52)
    np.testing.assert_array_equal(masks['odd.png'], expected)
    assert (expected != _api_mask(untrained_checkpoint, images / 'odd.png',
                                  prompts['odd.png'])).any()


def _infer(args, monkeypatch, capsys, config=QUICKSTART_CONFIG):
    """Run the tool in this process (its imports are paid once) and return
    its exit status and output."""
    monkeypatch.setattr(sys, 'argv', ['tools/infer.py', config] +
                        [str(arg) for arg in args])
    try:
        runpy.run_path(
            osp.join(REPO, 'tools', 'infer.py'), run_name='__main__')
        code = 0
    except SystemExit as err:
        code = err.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err + (
        code if isinstance(code, str) else '')


def test_refusals_and_exit_status(images, untrained_checkpoint, tmp_path,
                                  monkeypatch, capsys):
    before = {p: p.read_bytes() for p in images.rglob('*') if p.is_file()}
    common = [untrained_checkpoint, '--prompt', 'a', '--img']
    code, log = _infer(common + [images, '--out', images], monkeypatch, capsys)
    assert code and 'refusing to write the mask of broken.png' in log
    assert 'it would replace that input' in log
    assert {
        p: p.read_bytes()
        for p in images.rglob('*') if p.is_file()
    } == before

    code, log = _infer(
        ['pretrained', '--prompt', 'a', '--img', images, '--out', tmp_path],
        monkeypatch, capsys)
    assert code and 'names none' in log and 'Give a checkpoint file' in log
    code, log = _infer([
        untrained_checkpoint, '--prompt', ' ', '--img', images, '--out',
        tmp_path
    ], monkeypatch, capsys)
    assert code and '--prompt is empty' in log

    out = tmp_path / 'out'
    code, log = _infer(common + [images / 'broken.png', '--out', out],
                       monkeypatch, capsys)
    assert code and '0 masks written, 1 skipped' in log
    assert 'no image could be segmented' in log and not _masks(out)

    code, log = _infer(common + [images / 'grey.png', '--out', out],
                       monkeypatch, capsys)
    assert code == 0 and '1 masks written, 0 skipped' in log
    assert list(_masks(out)) == ['grey.png']
