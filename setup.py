# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

MIM_FILES = ('tools', 'configs', 'model-index.yml')


def readme() -> str:
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def get_version() -> str:
    scope: dict = {}
    with open(osp.join('mmvlsm', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'mmvlsm/version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    with open(fname, encoding='utf-8') as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def add_mim_extension() -> None:
    """Put ``tools/``, ``configs/`` and ``model-index.yml`` in ``mmvlsm/.mim``.

    ``mim train/test mmvlsm`` look for ``<package>/.mim/tools/train.py``.
    Editable installs (``develop`` or PEP 660 ``editable_wheel``) link to the
    repository's folders so edits show at once; every other build
    (``bdist_wheel``, ``sdist``, ``pip install .``) copies them so that the
    wheel carries them. Unlike mmseg's version, this runs for every build
    command, since a PEP 660 editable install passes neither ``develop`` nor
    ``bdist_wheel``.
    """
    editable = any(cmd in sys.argv for cmd in ('develop', 'editable_wheel'))
    repo_path = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo_path, 'mmvlsm', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for filename in MIM_FILES:
        src_path = osp.join(repo_path, filename)
        tar_path = osp.join(mim_path, filename)
        if not osp.exists(src_path):
            continue
        if osp.islink(tar_path) or osp.isfile(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)
        if editable:
            os.symlink(osp.relpath(src_path, mim_path), tar_path)
        elif osp.isdir(src_path):
            shutil.copytree(
                src_path,
                tar_path,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src_path, tar_path)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmvlsm',
        version=get_version(),
        description='Vision-language segmentation models for medical images '
        '(OpenMMLab plugin)',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='medical image segmentation, vision-language, CLIPSeg, '
        'OpenMMLab',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'data')),
        include_package_data=True,
        python_requires='>=3.10',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'tests': parse_requirements('requirements/tests.txt'),
            'mim': parse_requirements('requirements/mim.txt'),
        },
        zip_safe=False)
