# Copyright (c) OpenMMLab. All rights reserved.
import os

import pytest

from mmvlsm.utils.paths import output_names, path_inside, safe_relative_path


@pytest.mark.parametrize('name, relative, escaped', [
    ('a.png', 'a.png', False),
    ('mask_1/a.png', 'mask_1/a.png', False),
    ('./mask_1/x/../a.png', 'mask_1/a.png', False),
    ('/data/masks/a.png', '_outside/data/masks/a.png', True),
    ('../masks/a.png', '_outside/masks/a.png', True),
    ('a/../../../b/./c.png', '_outside/b/c.png', True),
    ('..', '_outside/unnamed', True),
    ('/', '_outside/unnamed', True),
])
def test_safe_relative_path(name, relative, escaped):
    assert safe_relative_path(name) == (relative, escaped)


def test_path_inside_refuses_links_out(tmp_path):
    root, elsewhere = tmp_path / 'out', tmp_path / 'elsewhere'
    root.mkdir()
    elsewhere.mkdir()
    assert path_inside(str(root), 'a/b.png') == str(root / 'a' / 'b.png')
    os.symlink(elsewhere, root / 'link')
    with pytest.raises(ValueError, match='resolves outside the output'):
        path_inside(str(root), 'link/b.png')


def _sample(mask_name, dataset='kvasir', key='p1', text='polyp'):
    return dict(
        mask_name=mask_name, dataset_name=dataset, prompt_key=key, text=text)


def test_output_names():
    samples = [
        _sample('a.png'),
        _sample('a.jpg', key='p2'),
        _sample('a_p1.png'),  # the name a.png's first sample would get
        _sample('b.png'),
        _sample('b.png'),  # the same sample twice: one file
    ]
    assert output_names(samples) == [
        'a_p1-2.png', 'a_p2.png', 'a_p1.png', 'b.png', 'b.png'
    ]
    # Several datasets: a folder each.
    assert output_names([_sample('a.png'),
                         _sample('a.png',
                                 'busi')]) == ['kvasir/a.png', 'busi/a.png']


def test_output_names_do_not_depend_on_order():
    samples = [
        _sample('m/a.png', text=text) for text in ('one', 'two', 'three')
    ] + [_sample('/abs/a.png')]
    names = dict(zip(map(str, samples), output_names(samples)))
    assert names[str(samples[0])] == 'm/a_1.png'
    assert names[str(samples[-1])] == '_outside/abs/a.png'
    reordered = samples[::-1]
    assert dict(zip(map(str, reordered), output_names(reordered))) == names
