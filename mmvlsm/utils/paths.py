# Copyright (c) OpenMMLab. All rights reserved.
"""Names of the files written per sample, kept inside their output folder.

``tools/test.py --out`` (:class:`DiceIoUMetric`) and ``--show-dir``
(:class:`VLSMVisualizationHook`) write one PNG per sample named after its
``mask_name``. A ``mask_name`` comes from an annotation file and may be
absolute or climb out with ``..``; several samples may also share one. The
functions here turn the names of all samples of a run into distinct
relative paths, and write nothing that would land outside the output folder.
Each sample is first written to a provisional file, and
:func:`move_to_output_names` gives them their final names once every sample
is known.
"""
import os
import os.path as osp
import posixpath
import uuid
from collections import OrderedDict
from typing import (Dict, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import cv2
import mmcv
import numpy as np
from mmengine.dist import get_rank

# Top folder of the names that pointed outside the output folder.
ESCAPED_DIR = '_outside'
# Folder of the provisional files, removed once they are moved.
PARTIAL_DIR = '.partial'


def safe_relative_path(name: str) -> Tuple[str, bool]:
    """Map a record's file name to a path inside an output folder.

    ``a/./b.png`` and ``a/x/../b.png`` become ``a/b.png``. A name that is
    absolute or climbs above the folder (``/data/masks/b.png``,
    ``../masks/b.png``) keeps its components other than ``/``, ``.`` and
    ``..`` under :data:`ESCAPED_DIR` (``_outside/data/masks/b.png``,
    ``_outside/masks/b.png``).

    Args:
        name (str): A ``mask_name``, with ``/`` separators.

    Returns:
        tuple[str, bool]: The relative path and whether ``name`` escaped.
    """
    normalized = posixpath.normpath(name)
    escaped = (
        posixpath.isabs(normalized) or normalized == '..'
        or normalized.startswith('../'))
    if escaped:
        parts = [p for p in normalized.split('/') if p not in ('', '.', '..')]
        normalized = posixpath.join(ESCAPED_DIR, *(parts or ['unnamed']))
    return normalized, escaped


def path_inside(root: str, relative: str) -> str:
    """Join ``relative`` onto ``root``, refusing to leave ``root``.

    Symbolic links are resolved, so a link inside ``root`` that points
    elsewhere is refused too.

    Args:
        root (str): The output folder.
        relative (str): A path from :func:`safe_relative_path`.

    Returns:
        str: ``root/relative``.

    Raises:
        ValueError: If the path resolves outside ``root``.
    """
    path = osp.join(root, relative)
    real_root = osp.realpath(root)
    if osp.commonpath([real_root, osp.realpath(path)]) != real_root:
        raise ValueError(f'refusing to write {path}: it resolves outside the '
                         f'output folder {root}')
    return path


def check_not_an_input(out: Union[str, Mapping[str, str]],
                       inputs: Iterable[Optional[str]],
                       what: str = 'the output') -> None:
    """Refuse to write a file or folder that is one of a tool's inputs.

    Paths are compared by what they lead to (device and inode, as
    :func:`os.path.samefile`), so ``./a.pth``, a symbolic link and a hard
    link to an input are that input. A path that does not exist yet is no
    input.

    Args:
        out (str | Mapping[str, str]): The file or folder to write, or
            several, each mapped to what it is (``{path: 'the mask of
            a.png'}``).
        inputs (Iterable[str | None]): The files and folders the tool reads;
            None (an option not given) is skipped.
        what (str): What ``out`` is, when it is one path. Defaults to
            'the output'.

    Raises:
        ValueError: Naming the output and the input it would replace.
    """
    identities = {}
    for path in inputs:
        if path is not None and osp.exists(path):
            stat = os.stat(path)
            identities.setdefault((stat.st_dev, stat.st_ino), path)
    outputs = {out: what} if isinstance(out, str) else out
    for path, description in outputs.items():
        try:
            stat = os.stat(path)
        except OSError:  # not there yet (or a dangling link): no input
            continue
        given = identities.get((stat.st_dev, stat.st_ino))
        if given is not None:
            which = 'that input' if path == given else f'the input {given}'
            raise ValueError(f'refusing to write {description} to {path}: '
                             f'it would replace {which}')


def output_keys(sample: Mapping) -> Dict[str, str]:
    """What :func:`output_names` needs of a model output.

    Args:
        sample (Mapping): A ``SegDataSample`` or its ``to_dict()``, with
            ``img_path`` and optionally ``mask_name``, ``dataset_name``,
            ``prompt_key`` and ``text``.

    Returns:
        dict[str, str]: ``mask_name`` (the base name of ``img_path`` if
        missing), ``dataset_name`` ('unknown' if missing), ``prompt_key``
        and ``text`` ('' if missing).
    """
    mask_name = sample.get('mask_name')
    return dict(
        mask_name=mask_name if mask_name is not None else osp.basename(
            sample.get('img_path')),
        dataset_name=sample.get('dataset_name', 'unknown'),
        prompt_key=sample.get('prompt_key', ''),
        text=sample.get('text', ''))


def output_names(samples: Sequence[dict], suffix: str = '.png') -> List[str]:
    """Distinct relative output paths, one per sample, in order.

    - The name is the sample's ``mask_name`` made safe by
      :func:`safe_relative_path`, with its extension replaced by ``suffix``
      (sub-folders are kept: ``mask_1/a.jpg`` -> ``mask_1/a.png``).
    - When the samples come from several ``dataset_name`` values, each
      dataset gets a folder: ``kvasir_polyp/a.png``.
    - When one name is shared by samples that differ in prompt (the same
      mask scored under several prompts, or ``a.jpg`` and ``a.png``), each
      gets the prompt key: ``a_p1.png``, ``a_p2.png``; if the keys do not
      tell them apart, a number: ``a_1.png``, ``a_2.png``, in the order of
      their prompt texts (names must not depend on the order in which the
      samples arrive, which differs between the ranks' overlays and the
      metric). Samples equal in dataset, mask name, prompt key and text
      share their file.

    Args:
        samples (Sequence[dict]): Each with the keys of
            :func:`output_keys`.
        suffix (str): Extension of the written files. Defaults to '.png'.

    Returns:
        list[str]: Relative paths, ``/``-separated.
    """
    several_datasets = len({s['dataset_name'] for s in samples}) > 1
    identities = [(s['dataset_name'], s['mask_name'], s['prompt_key'],
                   s['text']) for s in samples]
    groups: Dict[str, List[tuple]] = OrderedDict()
    for identity in identities:
        base = posixpath.splitext(safe_relative_path(identity[1])[0])[0]
        if several_datasets:
            base = posixpath.join(str(identity[0]), base)
        members = groups.setdefault(base, [])
        if identity not in members:
            members.append(identity)

    taken = {
        base + suffix
        for base, members in groups.items() if len(members) == 1
    }
    names = {}
    for base, members in groups.items():
        if len(members) == 1:
            names[members[0]] = base + suffix
            continue
        # Sorted, so that the names do not depend on the sample order.
        members.sort(key=lambda identity: tuple(map(str, identity)))
        keys = [str(identity[2]) for identity in members]
        if len(set(keys)) < len(keys):
            keys = [str(i) for i in range(1, len(members) + 1)]
        for identity, key in zip(members, keys):
            name, extra = f'{base}_{key}{suffix}', 1
            while name in taken:  # e.g. a record named 'a_p1' exists too
                extra += 1
                name = f'{base}_{key}-{extra}{suffix}'
            taken.add(name)
            names[identity] = name
    return [names[identity] for identity in identities]


def saved_mask_files(root: str, mask_names: Sequence[str]) -> List[str]:
    """Where ``tools/test.py --out ROOT`` saved the masks of one dataset's
    records (scored with one prompt each), by :func:`output_names`.

    Args:
        root (str): The ``--out`` folder.
        mask_names (Sequence[str]): The records' ``mask_name``.

    Returns:
        list[str]: One path per record, in order.
    """
    samples = [
        dict(dataset_name='', mask_name=name, prompt_key='', text='')
        for name in mask_names
    ]
    return [osp.join(root, name) for name in output_names(samples)]


def write_partial(root: str, image: np.ndarray, index: int) -> str:
    """Write a sample's file provisionally, until every name is known.

    Args:
        root (str): The output folder.
        image (np.ndarray): The image to write.
        index (int): A number unique in this process; the rank is added.

    Returns:
        str: The provisional file.

    Raises:
        OSError: If the file cannot be written.
    """
    path = osp.join(root, PARTIAL_DIR, f'{get_rank()}_{index}.png')
    if not mmcv.imwrite(image, path):
        raise OSError(f'could not write {path}')
    return path


def move_to_output_names(root: str, partial_files: Sequence[str],
                         samples: Sequence[dict]) -> List[str]:
    """Give provisional files their names from :func:`output_names`.

    Args:
        root (str): The output folder.
        partial_files (Sequence[str]): Files from :func:`write_partial`,
            one per sample.
        samples (Sequence[dict]): The samples, as for :func:`output_names`.

    Returns:
        list[str]: The relative names, one per sample.

    Raises:
        ValueError: If a name resolves outside ``root`` (a symbolic link).
    """
    names = output_names(samples)
    for partial, name in zip(partial_files, names):
        target = path_inside(root, name)
        os.makedirs(osp.dirname(target), exist_ok=True)
        os.replace(partial, target)
    try:
        os.rmdir(osp.join(root, PARTIAL_DIR))
    except OSError:  # absent (nothing written) or in use by another run
        pass
    return names


def write_atomic(path: str, data: Union[bytes, str]) -> None:
    """Write a file so that an interruption leaves no half-written file.

    The data go to a new hidden file next to ``path``, which is then
    renamed onto ``path`` (a rename within a folder is atomic), so ``path``
    is either as before or complete.

    Args:
        path (str): The file to write; its folder is created if missing.
        data (bytes | str): The content; a str is written as UTF-8.

    Raises:
        OSError: If the file cannot be written.
    """
    if isinstance(data, str):
        data = data.encode('utf-8')
    folder, name = osp.split(path)
    os.makedirs(folder or '.', exist_ok=True)
    partial = osp.join(folder, f'.{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}'
                       '.part')
    # O_EXCL never opens an existing file; 0o666 less the umask gives the
    # permissions a plain open() would.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.replace(partial, path)
    except BaseException:  # KeyboardInterrupt too: leave no partial file
        try:
            os.remove(partial)
        except OSError:
            pass
        raise


def write_png_atomic(path: str, image: np.ndarray) -> None:
    """Write a PNG with :func:`write_atomic`.

    Args:
        path (str): The PNG to write; its folder is created if missing.
        image (np.ndarray): uint8 or uint16 image of shape (H, W) or
            (H, W, 3) (BGR).

    Raises:
        OSError: If the image cannot be encoded or written.
    """
    ok, encoded = cv2.imencode('.png', image)
    if not ok:
        raise OSError(f'could not encode {path} as PNG')
    write_atomic(path, encoded.tobytes())
