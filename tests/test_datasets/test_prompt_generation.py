# Copyright (c) OpenMMLab. All rights reserved.
"""Prompt attributes from masks: hand-made cases, and medvlsm's real
CVC-ClinicDB prompts (locations from the records' bounding boxes)."""
import json
import os.path as osp

import numpy as np

from mmvlsm.datasets.prompt_generation import (location_of, make_prompts,
                                               mask_attributes, size_of)

# medvlsm's annotation files, shipped in data/.
DATA = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'data')


def test_size_bins():
    assert [size_of(c) for c in (0.00005, 0.0005, 0.05, 0.1, 0.5)
            ] == [None, 'tiny', 'small', 'medium', 'large']


def test_attributes_and_templates():
    mask = np.zeros((90, 90), bool)
    mask[5:25, 5:25] = True  # top left, 400 px of 8100: small
    mask[40:50, 60:88] = True  # right, oval
    image = np.zeros((90, 90, 3), np.uint8)
    image[mask] = (0, 0, 220)  # BGR red
    attributes = mask_attributes(mask, image)
    assert attributes == dict(
        number='two',
        size='small',
        location='top left, right',
        shape='irregular',
        colour='red')
    prompts = make_prompts('polyp', attributes, ['a growth of tissue'])
    assert prompts['p5'] == 'two small red irregular polyp'
    assert prompts['p6'] == ('two small red irregular polyp, located in top '
                             'left, right of the image')
    assert prompts['p9'] == [
        'two small red irregular polyp which is a growth of tissue located '
        'in top left, right of the image'
    ]
    disc = np.hypot(*np.mgrid[-20:21, -20:21]) <= 15
    assert mask_attributes(disc)['shape'] == 'round'


def test_location_rules():
    mask = np.zeros((30, 30), bool)
    mask[0:5, 0:5] = True
    assert location_of(mask) == 'top left'
    # Spread over several cells: the centre of its box decides.
    mask = np.zeros((30, 30), bool)
    mask[14:30, 0:16] = True
    assert location_of(mask) == 'bottom left'
    # medvlsm compared the column with thirds of the height: on a wide
    # image a box centred at column 100 of 300 is "center" by the width
    # but "right" by the height (90 / 3 * 2 = 60).
    mask = np.zeros((90, 300), bool)
    mask[35:55, 85:115] = True
    assert location_of(mask) == 'center'
    assert location_of(mask, location_width_bug=True) == 'right'


def test_locations_of_real_clinicdb_prompts():
    # CVC-ClinicDB images are 384 x 288; a record's bbox spans its polyp.
    # For single-polyp records, a box-shaped mask must give the location
    # medvlsm wrote into p6 (the shape differs from the real polyp's, so a
    # few records near cell borders may differ).
    agree = total = 0
    for split in ('train', 'val', 'test'):
        with open(osp.join(DATA, 'clinicdb_polyp', 'anns',
                           f'{split}.json')) as f:
            records = json.load(f)
        for record in records:
            if not record['prompts']['p5'].startswith('one '):
                continue
            x1, y1, x2, y2 = record['bbox']
            mask = np.zeros((288, 384), bool)
            mask[y1:y2, x1:x2] = True
            written = record['prompts']['p6'].split('located in ')[1]
            generated = mask_attributes(mask, location_width_bug=True)
            agree += f'{generated["location"]} of the image' == written
            assert generated['number'] == 'one'
            total += 1
    assert total > 500 and agree / total > 0.95
