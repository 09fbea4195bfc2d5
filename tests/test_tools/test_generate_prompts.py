# Copyright (c) OpenMMLab. All rights reserved.
import importlib.util
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from mmvlsm.datasets.prompt_generation import CELLS
from .conftest import REPO, load_tool, refuses_to_replace_input, run_tool

TOOL = 'tools/dataset_converters/generate_prompts.py'
spec = importlib.util.spec_from_file_location('generate_prompts',
                                              osp.join(REPO, TOOL))
generate_prompts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generate_prompts)


def test_prompts_for_a_dataset(toy_root, tmp_path):
    descriptions = tmp_path / 'descriptions.json'
    descriptions.write_text(json.dumps(['a coloured shape', 'a toy']))
    out = tmp_path / 'val.json'
    args = [
        sys.executable, TOOL, '--data-root',
        str(toy_root), '--split', 'val', '--class-name', 'shape',
        '--descriptions',
        str(descriptions), '--out',
        str(out)
    ]
    run_tool(args)
    records = json.loads(out.read_text())
    source = json.loads((toy_root / 'anns' / 'val.json').read_text())
    assert [r['mask_name']
            for r in records] == [r['mask_name'] for r in source]
    for record in records:
        prompts = record['prompts']
        assert list(prompts) == [f'p{k}' for k in range(10)]
        # Every toy target is one shape.
        assert prompts['p5'].startswith('one ')
        location = prompts['p6'].split('located in ')[1]
        assert location[:-len(' of the image')] in CELLS
        assert len(prompts['p9']) == 2
    # Nothing already written is replaced without --overwrite.
    log = run_tool(args, expect_fail=True)
    assert 'pass --overwrite' in log


def _mask_dataset(root, masks):
    """A dataset of one image per mask (name -> array), in the layout of
    the converters."""
    for folder in ('images', 'masks', 'anns'):
        (root / folder).mkdir(parents=True)
    image = np.zeros((48, 64, 3), np.uint8)
    image[..., 2] = 200  # red
    records = []
    for name, mask in masks.items():
        cv2.imwrite(str(root / 'images' / f'{name}.png'), image)
        cv2.imwrite(str(root / 'masks' / f'{name}.png'), mask)
        records.append(dict(img_name=f'{name}.png', mask_name=f'{name}.png'))
    (root / 'anns' / 'train.json').write_text(json.dumps(records))


def _prompts(root, *extra):
    out = root / 'out.json'
    generate_prompts.main([
        '--data-root',
        str(root), '--class-name', 'polyp', '--empty-prompt', 'no polyp',
        '--out',
        str(out), *extra
    ])
    return {r['mask_name']: r['prompts'] for r in json.loads(out.read_text())}


def test_masks_are_read_as_the_datasets_read_them(tmp_path):
    binary = np.zeros((48, 64), np.uint8)
    binary[5:20, 40:60] = 1  # top right
    binary[30:44, 4:14] = 1  # bottom left
    label_map = binary * 2
    label_map[0:3, 0:3] = 1
    masks = {
        'zero-one': binary,
        'zero-255': binary * 255,
        'zero-65535': binary.astype(np.uint16) * 65535,
        'colour': np.dstack([np.zeros_like(binary), binary * 255, binary]),
        'empty': np.zeros_like(binary),
    }
    _mask_dataset(tmp_path / 'data', masks)
    prompts = _prompts(tmp_path / 'data')
    reference = prompts['zero-255.png']
    assert reference['p5'].startswith('two ')
    for name in ('zero-one', 'zero-65535', 'colour'):
        assert prompts[f'{name}.png'] == reference, name
    assert prompts['empty.png']['p1'] == 'no polyp'
    # A label map: refused as the loader refuses it, or read by its labels.
    _mask_dataset(tmp_path / 'labels', {'map': label_map})
    with pytest.raises(
            SystemExit, match=r'record 0 of .*map\.png holds 3 '
            'values'):
        _prompts(tmp_path / 'labels')
    assert _prompts(tmp_path / 'labels', '--mask-labels',
                    '2')['map.png'] == reference
    # The loader's size check names both files.
    cv2.imwrite(str(tmp_path / 'labels' / 'masks' / 'map.png'), binary[:40])
    with pytest.raises(SystemExit, match=r'map\.png is 40x64 .*its image'):
        _prompts(tmp_path / 'labels', '--overwrite')


def test_out_is_never_an_input(toy_root, tmp_path, capsys):
    descriptions = tmp_path / 'descriptions.json'
    descriptions.write_text(json.dumps(['a toy']))
    message = refuses_to_replace_input(
        load_tool(TOOL).main, [
            '--data-root', toy_root, '--class-name', 'shape', '--descriptions',
            descriptions, '--out', descriptions, '--overwrite'
        ], descriptions, capsys)
    assert f'--out to {descriptions}: it would replace that input' in message
