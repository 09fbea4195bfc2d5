# Copyright (c) OpenMMLab. All rights reserved.
import json
import sys

from mmvlsm.datasets.prompt_generation import CELLS
from .conftest import load_tool, refuses_to_replace_input, run_tool

TOOL = 'tools/dataset_converters/generate_prompts.py'


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


def test_out_is_never_an_input(toy_root, tmp_path, capsys):
    descriptions = tmp_path / 'descriptions.json'
    descriptions.write_text(json.dumps(['a toy']))
    message = refuses_to_replace_input(
        load_tool(TOOL).main, [
            '--data-root', toy_root, '--class-name', 'shape', '--descriptions',
            descriptions, '--out', descriptions, '--overwrite'
        ], descriptions, capsys)
    assert f'--out to {descriptions}: it would replace that input' in message
