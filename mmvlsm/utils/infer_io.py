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
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from mmvlsm.datasets.volumes import (VOLUME_EXTENSIONS, dicom_files,
                                     is_dicom_file, output_extension,
                                     strip_volume_extension, volume_extension)
from .paths import check_not_an_input, path_inside

# Extensions that OpenCV decodes; other files in an --img folder are not
# images (notes, a prompts file) and are left alone.
IMAGE_EXTENSIONS = frozenset({
    '.bmp', '.dib', '.jpeg', '.jpg', '.jpe', '.jp2', '.png', '.webp', '.pbm',
    '.pgm', '.ppm', '.pnm', '.pxm', '.sr', '.ras', '.tiff', '.tif', '.exr',
    '.hdr', '.pic'
})
# Data files of detached-header volumes (.mhd, .nhdr): read with their
# header, never inputs of their own.
VOLUME_DATA_EXTENSIONS = frozenset({'.raw', '.zraw', '.gz', '.bz2'})
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


def _walk_folder(root: str, out_real: Optional[str], files: Dict[str, str],
                 ignored: List[str]) -> None:
    """Images, volumes and DICOM folders below ``root`` (sorted, hidden
    entries and the output folder left out), into ``files`` by real path
    (links to a file already there are left out)."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith('.')
            and osp.realpath(osp.join(folder, d)) != out_real)
        dicom = False
        for name in sorted(names):
            if name.startswith('.'):
                continue
            path = osp.join(folder, name)
            extension = osp.splitext(name)[1].lower()
            if (extension in IMAGE_EXTENSIONS
                    or volume_extension(name) is not None):
                files.setdefault(osp.realpath(path), path)
            elif is_dicom_file(path):
                dicom = True  # the folder's series is one input
            elif extension not in VOLUME_DATA_EXTENSIONS:
                ignored.append(path)
        if dicom:
            files.setdefault(osp.realpath(folder), folder)


def _glob_without_links(pattern: str) -> List[str]:
    """``glob.glob(pattern, recursive=True)``, except that ``**`` does not
    descend into symbolically linked folders (a link to a parent would
    repeat every file below it, without end)."""
    parts = pattern.split(os.sep)
    if '**' not in parts:
        return glob.glob(pattern)
    i = parts.index('**')
    head, tail = os.sep.join(parts[:i]), os.sep.join(parts[i + 1:])
    bases = glob.glob(head) if glob.has_magic(head) else [head or os.curdir]
    matches = []
    for base in (b for b in bases if osp.isdir(b)):
        # os.walk does not follow links; ``**`` skips hidden entries.
        for folder, dirs, names in os.walk(base):
            dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
            if tail:
                matches += _glob_without_links(
                    osp.join(glob.escape(folder), tail))
            else:
                matches += [folder] + [
                    osp.join(folder, name)
                    for name in names + dirs if not name.startswith('.')
                ]
    return matches


def collect_images(
        specs: Sequence[str],
        out_dir: Optional[str] = None) -> Tuple[str, List[str], List[str]]:
    """Find the images and volumes that ``--img`` names.

    Each spec is a file (taken whatever its extension), a folder or a glob
    pattern (``**`` matches sub-folders, not following symbolic links to
    folders; every file it matches is taken). A
    folder is searched recursively for files with an image or volume
    extension (:data:`IMAGE_EXTENSIONS`,
    :data:`~mmvlsm.datasets.volumes.VOLUME_EXTENSIONS`) in sorted order,
    hidden files and folders left out, and the ``out_dir`` folder too when
    it lies inside, so earlier outputs are not read back as inputs. A
    folder holding DICOM files is one input (its series), whether searched,
    named or matched by a glob; a DICOM file named as a spec is the series
    it belongs to.

    Args:
        specs (Sequence[str]): The ``--img`` values.
        out_dir (str, optional): The output folder. Defaults to None.

    Returns:
        tuple[str, list[str], list[str]]: The common root (the folder of a
        DIR, the parent of a file or of a DICOM folder; their common folder
        for several), the inputs (absolute paths, one per real file: a link
        to an input already found is left out) and the files a folder held
        that are neither images nor volumes.

    Raises:
        InferInputError: If a spec names nothing, or no input is found.
    """
    out_real = osp.realpath(out_dir) if out_dir is not None else None
    # Real path -> path as found: ordered, one entry per real file.
    files: Dict[str, str] = {}
    roots, ignored = [], []
    for spec in specs:
        if osp.isdir(spec) and dicom_files(spec):
            path = osp.abspath(spec)
            files.setdefault(osp.realpath(path), path)
            roots.append(osp.dirname(path))
        elif osp.isdir(spec):
            root = osp.abspath(spec)
            roots.append(root)
            _walk_folder(root, out_real, files, ignored)
        elif osp.isfile(spec):
            files.setdefault(osp.realpath(spec), osp.abspath(spec))
            roots.append(osp.dirname(osp.abspath(spec)))
        elif glob.has_magic(spec):
            matches = sorted({
                osp.abspath(path)
                for path in _glob_without_links(spec) if osp.isfile(path)
            })
            if not matches:
                raise InferInputError(f'--img {spec!r}: no file matches')
            for path in matches:
                if (volume_extension(path) is None and
                        osp.splitext(path)[1].lower() not in IMAGE_EXTENSIONS
                        and is_dicom_file(path)):
                    path = osp.dirname(path)
                if osp.realpath(path) not in files:
                    files[osp.realpath(path)] = path
                    roots.append(osp.dirname(path))
        else:
            raise InferInputError(f'--img {spec}: no such file or folder')
    if not files:
        raise InferInputError(
            f'no image found in {" ".join(specs)} (extensions read: '
            f'{" ".join(sorted(IMAGE_EXTENSIONS))}, volumes '
            f'{" ".join(VOLUME_EXTENSIONS)}, DICOM folders)')
    return osp.commonpath(roots), list(files.values()), ignored


def relative_names(root: str, files: Sequence[str]) -> List[str]:
    """Each file's path relative to ``root``, ``/``-separated."""
    return [osp.relpath(path, root).replace(os.sep, '/') for path in files]


def read_prompts_file(
        csv_file: str, root: str,
        files: Sequence[str]) -> Tuple[List[List[str]], List[str]]:
    """The prompts of each input from a CSV with the columns
    ``image,prompt``.

    ``image`` is a path relative to ``root`` (the ``--img`` folder), or a
    path as given (absolute, or relative to the current folder). Rows are
    matched to the inputs by the file they resolve to. Every input needs
    at least one row; several rows give an input several prompts (in row
    order), segmented into one label map. Rows of files that are not among
    ``files`` are returned so that the tool can warn about them (a prompts
    file may list more images than one run segments).

    Args:
        csv_file (str): The CSV file, UTF-8 (a byte-order mark is fine).
        root (str): The common root of the inputs.
        files (Sequence[str]): The inputs, from :func:`collect_images`.

    Returns:
        tuple[list[list[str]], list[str]]: The prompts of each input, in
        the order of ``files``, and the ``image`` values that matched no
        input.

    Raises:
        InferInputError: If the file cannot be read, lacks a column, has a
            row with more or fewer fields than its header (an unquoted
            comma), has an empty value, repeats a prompt of an input, or
            leaves an input without a prompt.
    """
    index = {osp.realpath(path): i for i, path in enumerate(files)}
    prompts: List[List[str]] = [[] for _ in files]
    lines: Dict[Tuple[int, str], int] = {}
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
                if len(row) != len(header):
                    # e.g. a prompt with an unquoted comma, which would
                    # lose what follows it.
                    raise InferInputError(
                        f'prompts file {csv_file}, line {reader.line_num}: '
                        f'{len(row)} fields where the header has '
                        f'{len(header)} ({",".join(header)}): {row}. Quote '
                        'a value that holds a comma: img.png,"a red, round '
                        'circle"')
                image = row[image_col].strip()
                prompt = row[prompt_col].strip()
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
                if (i, prompt) in lines:
                    raise InferInputError(
                        f'prompts file {csv_file}: lines {lines[i, prompt]} '
                        f'and {reader.line_num} both give {files[i]} the '
                        f'prompt {prompt!r}')
                prompts[i].append(prompt)
                lines[i, prompt] = reader.line_num
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InferInputError(
            f'cannot read prompts file {csv_file} (a UTF-8 CSV with the '
            f'columns image,prompt): {err}') from err
    missing = [
        name for name, given in zip(relative_names(root, files), prompts)
        if not given
    ]
    if missing:
        raise InferInputError(
            f'{len(missing)} of the {len(files)} images have no prompt in '
            f'{csv_file}: {listed(missing)}. Add a row for each, or give '
            '--img only the images that have one')
    return prompts, unmatched


def prompt_slug(prompt: str) -> str:
    """A prompt as a file-name part: ``"Left kidney!"`` -> ``left-kidney``
    (at most 40 characters)."""
    slug = re.sub(r'[^0-9a-z]+', '-', prompt.lower()).strip('-')[:40]
    return slug.strip('-') or 'prompt'


@dataclass
class PlannedOutputs:
    """The files written for one input.

    Attributes:
        masks (list[str]): The mask (a label map for several prompts), or
            one mask per prompt with ``one_file_per_prompt``.
        record (str): The JSON legend and settings; written for volumes
            and for label maps, else empty.
        probabilities (list[str]): One probability volume per prompt with
            ``save_probs`` (volumes only).
        overlay (str): The overlay of ``--show`` (2D images with one
            prompt), else empty.
    """

    masks: List[str]
    record: str = ''
    probabilities: List[str] = field(default_factory=list)
    overlay: str = ''


def plan_outputs(root: str,
                 files: Sequence[str],
                 out_dir: str,
                 show: bool,
                 protected: Sequence[str],
                 prompts: Optional[Sequence[Sequence[str]]] = None,
                 volumes: Optional[Sequence[bool]] = None,
                 one_file_per_prompt: bool = False,
                 save_probs: bool = False,
                 volume_format: str = '.nii.gz') -> List[PlannedOutputs]:
    """The output files of each input, checked before anything is written.

    Outputs are named after the input's path relative to ``root``
    (sub-folders kept): a 2D image's mask ``<name>.png`` (0/255; a label
    map 0..K with ``<name>.json`` for K prompts), its overlay
    ``overlays/<name>.png``; a volume's mask ``<name><volume_format>``
    (``.nii.gz`` by default, or the input's format) with ``<name>.json``,
    and with ``save_probs`` ``<name>_prob<ext>`` (``<name>_prob_<prompt>``
    for several prompts). With ``one_file_per_prompt`` every prompt gets
    its own mask ``<name>_<prompt><ext>``.

    Args:
        root (str): The common root of the inputs.
        files (Sequence[str]): The inputs.
        out_dir (str): The output folder.
        show (bool): Whether overlays are written (2D images, one prompt).
        protected (Sequence[str]): Files that must not be written over:
            every input (images, the prompts file, config, checkpoint).
        prompts (Sequence[Sequence[str]], optional): Each input's prompts
            (names of its per-prompt files). Defaults to one prompt each.
        volumes (Sequence[bool], optional): Which inputs are volumes.
            Defaults to none.
        one_file_per_prompt (bool): One mask per prompt instead of a label
            map. Defaults to False.
        save_probs (bool): Plan probability volumes. Defaults to False.
        volume_format (str): ``.nii.gz``, ``.nii``, ``.mha``, ``.nrrd`` or
            ``input``. Defaults to '.nii.gz'.

    Returns:
        list[PlannedOutputs]: One per input.

    Raises:
        InferInputError: If two outputs share a path (``a.jpg`` and
            ``a.png``), an output would replace a protected file, or lead
            out of ``out_dir`` through a symbolic link.
    """
    prompts = prompts if prompts is not None else [['']] * len(files)
    volumes = volumes if volumes is not None else [False] * len(files)
    planned = []
    owners: Dict[str, str] = {}  # output -> what writes it
    clashes = []
    for name, path, given, volume in zip(
            relative_names(root, files), files, prompts, volumes):
        if volume:
            # A DICOM folder keeps its whole name.
            stem = name if osp.isdir(path) else strip_volume_extension(name)
            ext = output_extension(path, volume_format)
        else:
            stem, ext = posixpath.splitext(name)[0], '.png'
        slugs = [prompt_slug(p) for p in given]
        slugs = [
            s if slugs.count(s) == 1 else f'{s}-{k}'
            for k, s in enumerate(slugs, 1)
        ]
        outputs = PlannedOutputs(masks=[f'{stem}_{s}{ext}'
                                        for s in slugs] if one_file_per_prompt
                                 and len(given) > 1 else [stem + ext])
        if volume or (len(given) > 1 and not one_file_per_prompt):
            outputs.record = stem + '.json'
        if volume and save_probs:
            outputs.probabilities = ([
                f'{stem}_prob{ext}'
            ] if len(given) == 1 else [f'{stem}_prob_{s}{ext}' for s in slugs])
        if show and not volume and len(given) == 1:
            outputs.overlay = posixpath.join(OVERLAY_DIR, stem + '.png')
        kinds = [('mask', m) for m in outputs.masks] + [
            ('record', outputs.record), ('overlay', outputs.overlay)
        ] + [('probabilities', p) for p in outputs.probabilities]
        for kind, output in kinds:
            if not output:
                continue
            owner = f'the {kind} of {name}'
            if output in owners:
                clashes.append(f'{owners[output]} and {owner} would both be '
                               f'{osp.join(out_dir, output)}')
            owners.setdefault(output, owner)
        planned.append(outputs)
    if clashes:
        raise InferInputError(
            f'{len(clashes)} output files are shared: {listed(clashes)}. '
            'Rename the inputs or segment them in separate runs')
    try:
        paths = {
            path_inside(out_dir, output): owner
            for output, owner in owners.items()
        }
    except ValueError as err:
        raise InferInputError(str(err)) from err
    try:
        check_not_an_input(paths, protected)
    except ValueError as err:
        raise InferInputError(
            f'{err}. Give --out a folder that holds no input') from err
    for outputs in planned:
        outputs.masks = [osp.join(out_dir, m) for m in outputs.masks]
        outputs.probabilities = [
            osp.join(out_dir, p) for p in outputs.probabilities
        ]
        outputs.record = osp.join(out_dir,
                                  outputs.record) if outputs.record else ''
        outputs.overlay = osp.join(out_dir,
                                   outputs.overlay) if outputs.overlay else ''
    return planned
