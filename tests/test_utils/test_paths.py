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


def test_check_not_an_input(tmp_path):
    from mmvlsm.utils.paths import check_not_an_input
    src = tmp_path / 'a.pth'
    src.write_bytes(b'weights')
    (tmp_path / 'data').mkdir()
    os.symlink(src, tmp_path / 'link.pth')
    os.link(src, tmp_path / 'hard.pth')
    inputs = [None, str(src), str(tmp_path / 'data')]
    with pytest.raises(
            ValueError,
            match=f'refusing to write DST to {src}: it would replace that '
            'input$'):
        check_not_an_input(str(src), inputs, 'DST')
    # Another name of the same file or folder names both paths.
    for other in (f'{tmp_path}/./a.pth', tmp_path / 'link.pth',
                  tmp_path / 'hard.pth', tmp_path / 'data' / '..' / 'data'):
        with pytest.raises(
                ValueError,
                match=f'to {other}: it would replace the input '
                f'{tmp_path}/(a.pth|data)$'):
            check_not_an_input(str(other), inputs, 'DST')
    # Several outputs, each with what it is.
    with pytest.raises(ValueError, match='write the mask of x to .*link.pth'):
        check_not_an_input(
            {
                str(tmp_path / 'new.png'): 'the mask of y',
                str(tmp_path / 'link.pth'): 'the mask of x'
            }, inputs)
    # Outputs that do not exist yet, or are other files, are no input.
    (tmp_path / 'copy.pth').write_bytes(b'weights')
    check_not_an_input(str(tmp_path / 'copy.pth'), inputs)
    check_not_an_input(str(tmp_path / 'new.pth'), inputs)
    check_not_an_input(str(tmp_path / 'new.pth'), [str(tmp_path / 'no')])
