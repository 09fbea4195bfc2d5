# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmvlsm.utils import paths
from mmvlsm.utils.infer_io import (InferInputError, collect_images,
                                   plan_outputs, read_prompts_file)
from mmvlsm.utils.paths import write_png_atomic


def _touch(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'')


def test_collect_images_from_folders_files_and_globs(tmp_path):
    _touch(tmp_path, 'imgs/b.png', 'imgs/a.JPG', 'imgs/sub/c.tif',
           'imgs/notes.txt', 'imgs/.hidden.png', 'imgs/.cache/d.png',
           'imgs/out/old.png', 'other/e.png')
    imgs = tmp_path / 'imgs'
    root, files, ignored = collect_images([str(imgs)], str(imgs / 'out'))
    assert root == str(imgs)
    # Sorted per folder; hidden entries and the --out folder left out.
    assert files == [str(imgs / n) for n in ('a.JPG', 'b.png', 'sub/c.tif')]
    assert ignored == [str(imgs / 'notes.txt')]
    # A file's root is its folder; several specs share their common one;
    # duplicates are dropped.
    root, files, _ = collect_images([
        str(imgs / 'b.png'),
        str(tmp_path / '*' / '*.png'),
        str(imgs / 'b.png')
    ])
    assert root == str(tmp_path)
    assert files == [str(imgs / 'b.png'), str(tmp_path / 'other/e.png')]
    root, files, _ = collect_images([str(imgs / '**' / '*.tif')])
    assert root == str(imgs / 'sub') and files == [str(imgs / 'sub/c.tif')]


def test_collect_images_takes_each_real_file_once(tmp_path):
    _touch(tmp_path, 'imgs/a.png', 'imgs/sub/b.png', 'imgs/.hidden/h.png')
    imgs = tmp_path / 'imgs'
    # A link to a parent folder, which ``**`` would follow until the path
    # is too long, and a second name of a file.
    os.symlink(imgs, imgs / 'sub' / 'loop')
    os.symlink(imgs / 'a.png', imgs / 'sub' / 'a_link.png')
    expected = [str(imgs / 'a.png'), str(imgs / 'sub' / 'b.png')]
    for spec in (str(imgs / '**' / '*.png'), str(imgs / '**'), str(imgs)):
        root, files, _ = collect_images([spec])
        assert root == str(imgs) and files == expected, spec
    _, files, _ = collect_images([str(imgs / 'sub' / '..' / '**' / 'b.png')])
    assert files == expected[1:]
    # A file named twice, through a link and a glob, is one input.
    _, files, _ = collect_images(
        [str(imgs / 'sub' / 'a_link.png'),
         str(imgs / '*.png')])
    assert files == [str(imgs / 'sub' / 'a_link.png')]


def test_collect_images_finds_volumes_and_dicom_folders(tmp_path):
    _touch(tmp_path, 'scans/a.nii.gz', 'scans/b.mhd', 'scans/b.raw',
           'scans/c.nrrd', 'scans/x.png', 'scans/notes.txt')
    for folder, name in [('series1', 'IM0001'), ('series1', 'IM0002.dcm'),
                         ('sub/series2', 'IM0001')]:
        path = tmp_path / 'scans' / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'\0' * 128 + b'DICM')
    scans = tmp_path / 'scans'
    root, files, ignored = collect_images([str(scans)])
    # A folder of DICOM files is one input; a .mhd's data file is none.
    assert files == [
        str(scans / n) for n in ('a.nii.gz', 'b.mhd', 'c.nrrd', 'x.png',
                                 'series1', 'sub/series2')
    ]
    assert ignored == [str(scans / 'notes.txt')]
    # A DICOM folder named or matched by a glob is that folder's series; a
    # DICOM file named is its own series.
    root, files, _ = collect_images([str(scans / 'series1')])
    assert root == str(scans) and files == [str(scans / 'series1')]
    root, files, _ = collect_images([str(scans / 'sub' / '*' / '*')])
    assert files == [str(scans / 'sub' / 'series2')]
    root, files, _ = collect_images([str(scans / 'series1' / 'IM0001')])
    assert files == [str(scans / 'series1' / 'IM0001')]


@pytest.mark.parametrize('spec, message', [
    ('missing', 'no such file or folder'),
    ('*.bmp', 'no file matches'),
    ('empty', 'no image found'),
])
def test_collect_images_errors(tmp_path, spec, message):
    (tmp_path / 'empty').mkdir()
    _touch(tmp_path, 'empty/readme.md')
    with pytest.raises(InferInputError, match=message):
        collect_images([str(tmp_path / spec)])


def test_read_prompts_file(tmp_path):
    _touch(tmp_path, 'imgs/a.png', 'imgs/sub/b.png', 'c.png')
    imgs = tmp_path / 'imgs'
    files = [str(imgs / 'a.png'), str(imgs / 'sub/b.png')]
    csv_file = tmp_path / 'prompts.csv'
    # A byte-order mark, spaces, another column order, an extra column, a
    # blank line, a path and a row for an image of another run.
    csv_file.write_text(
        '\ufeff Prompt ,note,IMAGE\n'
        '"a polyp, small",x,sub/b.png\n\n'
        f'left kidney,,{imgs / "a.png"}\n'
        'red circle,,c.png\n'
        'right kidney,,sub/b.png\n',
        encoding='utf-8')
    prompts, unmatched = read_prompts_file(str(csv_file), str(imgs), files)
    # Several rows give an image several prompts, in row order.
    assert prompts == [['left kidney'], ['a polyp, small', 'right kidney']]
    assert unmatched == ['c.png']


@pytest.mark.parametrize(
    'content, message',
    [
        ('name,prompt\na.png,x\n',
         r"columns image,prompt.*\['name', 'prompt'\]"),
        ('', 'columns image,prompt'),
        ('image,prompt\na.png,\n', 'line 2: empty image or prompt'),
        ('image,prompt\na.png,x\n./a.png,x\nb.png,y\n',
         "lines 2 and 3 both give .*a.png the prompt 'x'"),
        ('image,prompt\na.png,x\n', '1 of the 2 images have no prompt.*b.png'),
        # An unquoted comma would cut the prompt to 'a red'.
        ('image,prompt\na.png,x\nb.png,a red, round circle\n',
         r'prompts file .*prompts.csv, line 3: 3 fields where the header '
         r'has 2 '
         r"\(image,prompt\): \['b.png', 'a red', ' round circle'\]. Quote a "
         'value that holds a comma'),
        ('image,prompt,note\na.png,x,\nb.png,y\n',
         'line 3: 2 fields where the header has 3'),
    ])
def test_read_prompts_file_errors(tmp_path, content, message):
    _touch(tmp_path, 'a.png', 'b.png')
    csv_file = tmp_path / 'prompts.csv'
    csv_file.write_text(content, encoding='utf-8')
    files = [str(tmp_path / 'a.png'), str(tmp_path / 'b.png')]
    with pytest.raises(InferInputError, match=message):
        read_prompts_file(str(csv_file), str(tmp_path), files)


def test_read_prompts_file_not_utf8_or_missing(tmp_path):
    csv_file = tmp_path / 'prompts.csv'
    csv_file.write_bytes('image,prompt\na.png,pólipo\n'.encode('latin-1'))
    with pytest.raises(InferInputError, match='cannot read prompts file'):
        read_prompts_file(str(csv_file), str(tmp_path), [])
    with pytest.raises(InferInputError, match='cannot read prompts file'):
        read_prompts_file(str(tmp_path / 'missing.csv'), str(tmp_path), [])


def test_plan_outputs_keeps_sub_folders(tmp_path):
    root = str(tmp_path / 'imgs')
    files = [osp.join(root, 'a.jpg'), osp.join(root, 'sub', 'b.tif')]
    out = str(tmp_path / 'out')
    planned = plan_outputs(root, files, out, True, files)
    assert [p.masks for p in planned] == [[osp.join(out, 'a.png')],
                                          [osp.join(out, 'sub', 'b.png')]]
    assert [p.overlay for p in planned] == [
        osp.join(out, 'overlays', 'a.png'),
        osp.join(out, 'overlays', 'sub', 'b.png')
    ]
    assert [p.overlay
            for p in plan_outputs(root, files, out, False, files)] == ['', '']
    assert [p.record for p in planned] == ['', '']
    # JPEG inputs may share their folder with the masks.
    assert plan_outputs(root, files, root, False,
                        files)[0].masks == [osp.join(root, 'a.png')]


def test_plan_outputs_of_volumes_and_several_prompts(tmp_path):
    root = str(tmp_path)
    (tmp_path / 'dicom.v2').mkdir()
    files = [
        osp.join(root, 'ct', 'scan.nii.gz'),
        osp.join(root, 'mr.mhd'),
        osp.join(root, 'dicom.v2'),
        osp.join(root, 'x.png')
    ]
    prompts = [['liver'], ['Left kidney!', 'spleen'], ['a', 'a b'],
               ['red', 'blue']]
    out = str(tmp_path / 'out')

    def names(planned):
        return [(p.masks, p.record, p.probabilities) for p in planned]

    planned = plan_outputs(
        root,
        files,
        out,
        True,
        files,
        prompts=prompts,
        volumes=[True, True, True, False],
        save_probs=True)
    join = lambda *n: [osp.join(out, m) for m in n]  # noqa: E731
    assert names(planned) == [
        (join('ct/scan.nii.gz'), join('ct/scan.json')[0],
         join('ct/scan_prob.nii.gz')),
        (join('mr.nii.gz'), join('mr.json')[0],
         join('mr_prob_left-kidney.nii.gz', 'mr_prob_spleen.nii.gz')),
        # A DICOM folder keeps its whole name.
        (join('dicom.v2.nii.gz'), join('dicom.v2.json')[0],
         join('dicom.v2_prob_a.nii.gz', 'dicom.v2_prob_a-b.nii.gz')),
        # A 2D label map has its legend; overlays are for one prompt.
        (join('x.png'), join('x.json')[0], []),
    ]
    assert planned[3].overlay == ''
    planned = plan_outputs(
        root,
        files,
        out,
        False,
        files,
        prompts=prompts,
        volumes=[True, True, True, False],
        one_file_per_prompt=True,
        volume_format='input')
    assert names(planned) == [
        (join('ct/scan.nii.gz'), join('ct/scan.json')[0], []),
        # .mhd is written as the one-file MetaImage, and so is DICOM.
        (join('mr_left-kidney.mha', 'mr_spleen.mha'), join('mr.json')[0], []),
        (join('dicom.v2_a.mha',
              'dicom.v2_a-b.mha'), join('dicom.v2.json')[0], []),
        (join('x_red.png', 'x_blue.png'), '', []),
    ]
    # Prompts with the same file name part are numbered.
    assert plan_outputs(
        root,
        files[3:],
        out,
        False, [],
        prompts=[['a b', 'a-b']],
        one_file_per_prompt=True)[0].masks == join('x_a-b-1.png',
                                                   'x_a-b-2.png')


@pytest.mark.parametrize('names, show, message', [
    (['a.jpg', 'a.png'], False,
     r'the mask of a.jpg and the mask of a.png would both be .*a.png'),
    (['x.png', 'overlays/x.png'
      ], True, 'the overlay of x.png and the mask of overlays/x.png'),
])
def test_plan_outputs_refuses_shared_outputs(tmp_path, names, show, message):
    files = [str(tmp_path / name) for name in names]
    with pytest.raises(InferInputError, match=message):
        plan_outputs(str(tmp_path), files, str(tmp_path / 'out'), show, [])


def test_plan_outputs_never_writes_onto_inputs(tmp_path):
    _touch(tmp_path, 'imgs/a.png', 'out/prompts.png')
    root = str(tmp_path / 'imgs')
    files = [osp.join(root, 'a.png')]
    with pytest.raises(
            InferInputError,
            match=r'mask of a.png to .*a.png: it would replace '
            'that input'):
        plan_outputs(root, files, root, False, files)
    # Any protected file, also through another path to it.
    os.symlink(tmp_path / 'out', tmp_path / 'link')
    with pytest.raises(InferInputError, match='replace the input .*link'):
        plan_outputs(root, [osp.join(root, 'prompts.png')],
                     str(tmp_path / 'out'), False,
                     [str(tmp_path / 'link' / 'prompts.png')])
    # A link inside --out that leads elsewhere.
    os.makedirs(tmp_path / 'out2')
    os.symlink(tmp_path / 'imgs', tmp_path / 'out2' / 'sub')
    with pytest.raises(InferInputError, match='resolves outside'):
        plan_outputs(
            str(tmp_path), [str(tmp_path / 'sub' / 'b.jpg')],
            str(tmp_path / 'out2'), False, [])


def test_write_png_atomic(tmp_path, monkeypatch):
    mask = np.zeros((5, 7), np.uint8)
    mask[1:3] = 255
    path = tmp_path / 'sub' / 'm.png'
    write_png_atomic(str(path), mask)
    np.testing.assert_array_equal(
        cv2.imread(str(path), cv2.IMREAD_UNCHANGED), mask)
    assert os.listdir(path.parent) == ['m.png']

    # Interrupted before the rename: the old file stays, nothing is left.
    def interrupt(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(paths.os, 'replace', interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_png_atomic(str(path), 255 - mask)
    assert os.listdir(path.parent) == ['m.png']
    np.testing.assert_array_equal(
        cv2.imread(str(path), cv2.IMREAD_UNCHANGED), mask)
