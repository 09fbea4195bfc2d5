# Copyright (c) OpenMMLab. All rights reserved.
"""setup.py gives mim the ``mmvlsm/.mim`` folder for every kind of build."""
import os
import os.path as osp
import runpy
import shutil

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture
def repo_copy(tmp_path):
    shutil.copy(osp.join(REPO, 'setup.py'), tmp_path)
    shutil.copy(osp.join(REPO, 'model-index.yml'), tmp_path)
    (tmp_path / 'mmvlsm').mkdir()
    for folder in ('tools', 'configs'):
        (tmp_path / folder / '__pycache__').mkdir(parents=True)
        (tmp_path / folder / 'x.py').write_text('# x\n')
        (tmp_path / folder / '__pycache__' / 'x.pyc').write_bytes(b'')
    return tmp_path


@pytest.mark.parametrize('command', ['editable_wheel', 'develop'])
def test_editable_builds_link_the_repository(repo_copy, monkeypatch, command):
    setup = runpy.run_path(str(repo_copy / 'setup.py'), run_name='setup')
    monkeypatch.setattr('sys.argv', ['setup.py', command])
    setup['add_mim_extension']()
    for name in ('tools', 'configs', 'model-index.yml'):
        target = repo_copy / 'mmvlsm' / '.mim' / name
        assert target.is_symlink()
        assert os.readlink(target) == osp.join('..', '..', name)
    assert (repo_copy / 'mmvlsm' / '.mim' / 'tools' / 'x.py').is_file()


@pytest.mark.parametrize('command', ['bdist_wheel', 'sdist', 'egg_info'])
def test_other_builds_copy_the_files(repo_copy, monkeypatch, command):
    setup = runpy.run_path(str(repo_copy / 'setup.py'), run_name='setup')
    monkeypatch.setattr('sys.argv', ['setup.py', 'editable_wheel'])
    setup['add_mim_extension']()  # a stale link from an earlier build
    monkeypatch.setattr('sys.argv', ['setup.py', command])
    setup['add_mim_extension']()
    mim = repo_copy / 'mmvlsm' / '.mim'
    assert not (mim / 'tools').is_symlink()
    assert (mim / 'tools' / 'x.py').read_text() == '# x\n'
    assert not (mim / 'tools' / '__pycache__').exists()
    assert (mim / 'model-index.yml').is_file()


def test_installed_package_carries_the_tools_for_mim():
    """`make env` installs mmvlsm so that mim finds its train script."""
    from mim.utils import get_installed_path
    root = get_installed_path('mmvlsm')
    for name in ('train.py', 'test.py', 'dist_train.sh'):
        assert osp.isfile(osp.join(root, '.mim', 'tools', name)), (
            f'{root}/.mim/tools/{name} is missing: install mmvlsm with '
            '`make env` (pip install --no-deps .)')
    assert osp.isfile(osp.join(root, '.mim', 'model-index.yml'))
