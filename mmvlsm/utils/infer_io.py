# Copyright (c) OpenMMLab. All rights reserved.
"""The files of ``tools/infer.py``: which images, which prompts, which
outputs.

Everything here is decided before the model is built, so that a typo in a
path or a prompts file, two images that would share a mask, or an output
folder that would overwrite an input stop the tool before it has done any
work.
"""
import csv
import glob
import os
import os.path as osp
import posixpath
from typing import Dict, List, Optional, Sequence, Tuple

from .paths import path_inside

# Extensions that OpenCV decodes; other files in an --img folder are not
# images (notes, a prompts file) and are left alone.
IMAGE_EXTENSIONS = frozenset({
    '.bmp', '.dib', '.jpeg', '.jpg', '.jpe', '.jp2', '.png', '.webp', '.pbm',
    '.pgm', '.ppm', '.pnm', '.pxm', '.sr', '.ras', '.tiff', '.tif', '.exr',
    '.hdr', '.pic'
})
# Sub-folder of --out for the overlays of --show.
OVERLAY_DIR = 'overlays'
# How many names an error lists before it counts the rest.
MAX_LISTED = 5


class InferInputError(ValueError):
    """Inputs or outputs of ``tools/infer.py`` that it refuses to run on."""


def listed(items: Sequence[str]) -> str:
    """``a, b, c`` or ``a, b, c, d, e and 4 more`` (:data:`MAX_LISTED`)."""
    shown = ', '.join(items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return f'{shown} and {more} more' if more > 0 else shown


def collect_images(
        specs: Sequence[str],
        out_dir: Optional[str] = None) -> Tuple[str, List[str], List[str]]:
    """Find the images that ``--img`` names.

    Each spec is a file (taken whatever its extension), a folder (searched
    recursively for files with an image extension, in sorted order, hidden
    files and folders left out, and the ``out_dir`` folder too when it lies
    inside, so earlier outputs are not read back as inputs) or a glob
    pattern (``**`` matches sub-folders; every file it matches is taken).

    Args:
        specs (Sequence[str]): The ``--img`` values.
        out_dir (str, optional): The output folder. Defaults to None.

    Returns:
        tuple[str, list[str], list[str]]: The common root (the folder of a
        DIR, the parent of a file; their common folder for several), the
        images (absolute paths, without duplicates) and the files a folder
        held that are not images by their extension.

    Raises:
        InferInputError: If a spec names nothing, or no image is found.
    """
    out_real = osp.realpath(out_dir) if out_dir is not None else None
    files: Dict[str, None] = {}  # ordered and without duplicates
    roots, ignored = [], []
    for spec in specs:
        if osp.isdir(spec):
            root = osp.abspath(spec)
            roots.append(root)
            for folder, dirs, names in os.walk(root):
                dirs[:] = sorted(
                    d for d in dirs if not d.startswith('.')
                    and osp.realpath(osp.join(folder, d)) != out_real)
                for name in sorted(names):
                    if name.startswith('.'):
                        continue
                    path = osp.join(folder, name)
                    if osp.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                        files[path] = None
                    else:
                        ignored.append(path)
        elif osp.isfile(spec):
            files[osp.abspath(spec)] = None
            roots.append(osp.dirname(osp.abspath(spec)))
        elif glob.has_magic(spec):
            matches = sorted(
                osp.abspath(path) for path in glob.glob(spec, recursive=True)
                if osp.isfile(path))
            if not matches:
                raise InferInputError(f'--img {spec!r}: no file matches')
            for path in matches:
                files[path] = None
                roots.append(osp.dirname(path))
        else:
            raise InferInputError(f'--img {spec}: no such file or folder')
    if not files:
        raise InferInputError(
            f'no image found in {" ".join(specs)} (extensions read: '
            f'{" ".join(sorted(IMAGE_EXTENSIONS))})')
    return osp.commonpath(roots), list(files), ignored


def relative_names(root: str, files: Sequence[str]) -> List[str]:
    """Each file's path relative to ``root``, ``/``-separated."""
    return [osp.relpath(path, root).replace(os.sep, '/') for path in files]


def read_prompts_file(csv_file: str, root: str,
                      files: Sequence[str]) -> Tuple[List[str], List[str]]:
    """One prompt per image from a CSV with the columns ``image,prompt``.

    ``image`` is a path relative to ``root`` (the ``--img`` folder), or a
    path as given (absolute, or relative to the current folder). Rows are
    matched to the images by the file they resolve to. Every image must
    have exactly one row; rows of images that are not among ``files`` are
    returned so that the tool can warn about them (a prompts file may list
    more images than one run segments).

    Args:
        csv_file (str): The CSV file, UTF-8 (a byte-order mark is fine).
        root (str): The common root of the images.
        files (Sequence[str]): The images, from :func:`collect_images`.

    Returns:
        tuple[list[str], list[str]]: The prompt of each image, in the order
        of ``files``, and the ``image`` values that matched no image.

    Raises:
        InferInputError: If the file cannot be read, lacks a column, has an
            empty value, gives two rows to one image, or leaves an image
            without a prompt.
    """
    index = {osp.realpath(path): i for i, path in enumerate(files)}
    prompts: List[Optional[str]] = [None] * len(files)
    lines: Dict[int, int] = {}
    unmatched = []
    try:
        with open(csv_file, encoding='utf-8-sig', newline='') as f:
            reader = csv.reader(f)
            header = [cell.strip().lower() for cell in next(reader, [])]
            if 'image' not in header or 'prompt' not in header:
                raise InferInputError(
                    f'prompts file {csv_file} needs the columns image,prompt '
                    f'in its first row; it has {header}')
            image_col, prompt_col = header.index('image'), header.index(
                'prompt')
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                cells = row + [''] * (len(header) - len(row))
                image = cells[image_col].strip()
                prompt = cells[prompt_col].strip()
                if not image or not prompt:
                    raise InferInputError(
                        f'prompts file {csv_file}, line {reader.line_num}: '
                        f'empty image or prompt in {row}')
                i = next((index[real]
                          for real in (osp.realpath(osp.join(root, image)),
                                       osp.realpath(image)) if real in index),
                         None)
                if i is None:
                    unmatched.append(image)
                    continue
                if prompts[i] is not None:
                    raise InferInputError(
                        f'prompts file {csv_file}: lines {lines[i]} and '
                        f'{reader.line_num} both give a prompt for '
                        f'{files[i]}; give one prompt per image')
                prompts[i], lines[i] = prompt, reader.line_num
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InferInputError(
            f'cannot read prompts file {csv_file} (a UTF-8 CSV with the '
            f'columns image,prompt): {err}') from err
    missing = [
        name for name, prompt in zip(relative_names(root, files), prompts)
        if prompt is None
    ]
    if missing:
        raise InferInputError(
            f'{len(missing)} of the {len(files)} images have no prompt in '
            f'{csv_file}: {listed(missing)}. Add a row for each, or give '
            '--img only the images that have one')
    return prompts, unmatched


def plan_outputs(root: str, files: Sequence[str], out_dir: str, show: bool,
                 protected: Sequence[str]) -> Tuple[List[str], List[str]]:
    """The mask (and overlay) file of each image, checked before writing.

    A mask is ``out_dir/<path relative to root>`` with a ``.png``
    extension (sub-folders kept), its overlay the same under
    ``out_dir/overlays/``.

    Args:
        root (str): The common root of the images.
        files (Sequence[str]): The images.
        out_dir (str): The output folder.
        show (bool): Whether overlays are written too.
        protected (Sequence[str]): Files that must not be written over:
            every input (images, the prompts file, config, checkpoint).

    Returns:
        tuple[list[str], list[str]]: The mask and overlay paths, one per
        image (overlays empty strings when ``show`` is False).

    Raises:
        InferInputError: If two outputs share a path (``a.jpg`` and
            ``a.png``), an output would replace a protected file, or lead
            out of ``out_dir`` through a symbolic link.
    """
    masks, overlays = [], []
    owners: Dict[str, str] = {}  # output -> what writes it
    clashes = []
    for name in relative_names(root, files):
        mask = posixpath.splitext(name)[0] + '.png'
        outputs = [('mask', mask)]
        if show:
            outputs.append(('overlay', posixpath.join(OVERLAY_DIR, mask)))
        for kind, output in outputs:
            owner = f'the {kind} of {name}'
            if output in owners:
                clashes.append(f'{owners[output]} and {owner} would both be '
                               f'{osp.join(out_dir, output)}')
            owners.setdefault(output, owner)
        masks.append(osp.join(out_dir, mask))
        overlays.append(osp.join(out_dir, outputs[-1][1]) if show else '')
    if clashes:
        raise InferInputError(
            f'{len(clashes)} output files are shared: {listed(clashes)}. '
            'Rename the inputs or segment them in separate runs')
    guarded = {osp.realpath(path): path for path in protected}
    for output, owner in owners.items():
        try:
            path = path_inside(out_dir, output)
        except ValueError as err:
            raise InferInputError(str(err)) from err
        real = osp.realpath(path)
        if real in guarded:
            same = osp.abspath(path) == osp.abspath(guarded[real])
            raise InferInputError(
                f'refusing to write {owner} to {path}: it would replace ' +
                ('that input' if same else f'the input {guarded[real]}') +
                '. Give --out a folder that holds no input')
    return masks, overlays
