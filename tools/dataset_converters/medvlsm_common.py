# Copyright (c) OpenMMLab. All rights reserved.
"""Shared logic of the medvlsm dataset converters
(``tools/dataset_converters/medvlsm.py``).

The annotation files shipped in ``data/<ds>/anns/*.json`` name the images
and masks that :class:`mmvlsm.datasets.MedVLSMDataset` reads from
``data/<ds>/images/`` and ``data/<ds>/masks/``. A converter reads those
records and asks a per-dataset :class:`Converter` for the files each one
needs. Most downloads hold the images and masks as files, found through a
:class:`DatasetSpec`, which writes:

- the image under its ``img_name``: the source file copied byte for byte
  when it already has the annotation's format (``.jpg``/``.jpeg`` and
  ``.tif``/``.tiff`` count as one format), otherwise decoded and re-encoded
  in the format of the annotation's extension (e.g. TIFF -> PNG);
- the mask under its ``mask_name``, binarised to 0/255 and always encoded
  as a **PNG**, also when the name ends in ``.jpg``/``.jpeg`` (Kvasir-SEG,
  BKAI-IGH). mmvlsm decodes masks by content, not by extension
  (``LoadBinaryMask``, docs/input_formats.md), so such a file is read as
  the lossless PNG it is and the JPEG rule (Otsu's threshold) is not used.

Binarisation of a source mask: alpha is dropped and a colour mask is
reduced to the maximum over its channels; a mask that holds at most two
values, one of them 0 (0/1, 0/255, 0/65535), is foreground where nonzero;
any other mask (a lossy JPEG, an anti-aliased mask) is foreground above
half of its dtype's range (> 127 for 8 bits), which also drops the
near-black JPEG noise around a colour mask's classes.

CAMUS (volume files) and CheXlocalize (polygon outlines) have converters
of their own (``medvlsm_camus.py``, ``medvlsm_chexlocalize.py``).

Existing output files are kept unless ``overwrite=True``. Records that
cannot be converted (no source, or a source that contradicts the record)
are all reported at once, before anything is written, in a
:class:`MissingSourceError`; with ``skip_missing=True`` they
are logged and left out (the annotation files still name them, so
``MedVLSMDataset`` reports the first missing file until it is supplied).
"""
import glob
import json
import os
import os.path as osp
import shutil
import sys
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmvlsm.utils.paths import write_atomic  # noqa: E402

# Extensions that are the same format (copied as is between them).
_FORMAT = {
    '.jpg': 'jpeg',
    '.jpeg': 'jpeg',
    '.jpe': 'jpeg',
    '.tif': 'tiff',
    '.tiff': 'tiff',
    '.png': 'png',
    '.bmp': 'bmp',
}
LOG_EVERY = 100

# Maps an annotation file name to candidate source paths, relative to one
# of the spec's search folders (glob patterns when ``merge_masks``).
NameMap = Callable[[str], List[str]]


class MissingSourceError(FileNotFoundError):
    """Records of the annotation files have no source in the download."""


def same_stem(exts: Sequence[str],
              prefix: str = '',
              suffix: str = '') -> NameMap:
    """A name map trying ``prefix + <stem> + suffix + ext`` for each ext.

    Args:
        exts (Sequence[str]): Extensions to try, in order (with the dot).
        prefix (str): Folder or text put before the stem. Defaults to ''.
        suffix (str): Text put after the stem. Defaults to ''.

    Returns:
        Callable[[str], list[str]]: The name map.
    """

    def names(name: str) -> List[str]:
        stem = osp.splitext(osp.basename(name))[0]
        return [f'{prefix}{stem}{suffix}{ext}' for ext in exts]

    return names


# Writes one output file at the path it is given.
Writer = Callable[[str], None]


class Converter:
    """How one dataset's download becomes the files its annotations name.

    A converter resolves each annotation record to the output files it
    needs (paths relative to the data root) and the writers of those files;
    :func:`convert` does the rest (reporting records it cannot convert,
    keeping existing files, logging progress).

    Attributes:
        name (str): The folder under ``data/`` (``kvasir_polyp``).
        note (str): A warning logged before converting ('' for none).
    """
    name: str
    note: str

    def prepare(self, raw_dir: str, data_root: str, splits: Sequence[str],
                overwrite: bool, log: Callable[[str], None]) -> None:
        """Run before the records are read (e.g. write a missing split).

        Args:
            raw_dir (str): The download.
            data_root (str): ``data/<ds>``.
            splits (Sequence[str]): The splits asked for (empty: all).
            overwrite (bool): Replace existing files.
            log (Callable[[str], None]): Progress messages.
        """

    def outputs(self, raw_dir: str, ann: str,
                record: dict) -> Tuple[Dict[str, Writer], List[str]]:
        """The files one record needs.

        Args:
            raw_dir (str): The download.
            ann (str): The annotation file's name (``train.json``).
            record (dict): The record.

        Returns:
            tuple[dict[str, Writer], list[str]]: The output paths, relative
            to the data root, with their writers; and what stops the
            record from being converted (empty when nothing does).
        """
        raise NotImplementedError


@dataclass
class DatasetSpec(Converter):
    """A download that holds each record's image and mask as files.

    Args:
        name (str): The folder under ``data/`` (``kvasir_polyp``).
        image_dirs (Sequence[str]): Folders of ``RAW_DIR`` searched for the
            images, in order (``''`` is ``RAW_DIR`` itself).
        mask_dirs (Sequence[str]): The same for the masks.
        image_names (NameMap): ``img_name`` -> candidate relative paths.
        mask_names (NameMap): ``mask_name`` -> candidate relative paths.
        merge_masks (bool): The candidates are glob patterns and every
            file they match (in the first folder with a match) is merged
            into one mask (union). Defaults to False.
        note (str): A warning logged before converting. Defaults to ''.
    """
    name: str
    image_dirs: Sequence[str]
    mask_dirs: Sequence[str]
    image_names: NameMap
    mask_names: NameMap
    merge_masks: bool = False
    note: str = ''
    _found: Dict[Tuple[str, str], List[str]] = field(
        default_factory=dict, init=False, repr=False)

    def outputs(self, raw_dir: str, ann: str,
                record: dict) -> Tuple[Dict[str, Writer], List[str]]:
        """The image and mask of a record, found in the download."""
        problems, outs = [], {}
        for kind, key, dirs, names, merge in (
            ('image', 'img_name', self.image_dirs, self.image_names, False),
            ('mask', 'mask_name', self.mask_dirs, self.mask_names,
             self.merge_masks)):
            name = record[key]
            cands = names(name)
            if (kind, name) not in self._found:
                self._found[kind, name] = find_sources(raw_dir, dirs, cands,
                                                       merge)
            srcs = self._found[kind, name]
            if not srcs:
                where = ', '.join(repr(d or '.') for d in dirs)
                problems.append(f'{kind} {name!r} has no source (looked for '
                                f'{" or ".join(cands)} in the folders '
                                f'{where} of RAW_DIR)')
            elif kind == 'image':
                outs[osp.join('images', name)] = partial(write_image, srcs[0])
            else:
                outs[osp.join('masks', name)] = partial(write_mask, srcs)
        return outs, problems


@dataclass
class ConvertReport:
    """What :func:`convert` did.

    Args:
        records (int): Records read from the annotation files.
        written (int): Files written.
        kept (int): Existing files left as they were.
        skipped (list[str]): Messages for records left out.
    """
    records: int = 0
    written: int = 0
    kept: int = 0
    skipped: List[str] = field(default_factory=list)


def read_json(path: str) -> object:
    """Parse a JSON file.

    Raises:
        ValueError: If it is not valid JSON, naming the file and place.
    """
    with open(path, encoding='utf-8-sig') as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{path} is not valid JSON: {err}') from None


def read_records(
        data_root: str,
        splits: Optional[Sequence[str]] = None) -> List[Tuple[str, int, dict]]:
    """Read the records of the shipped annotation files.

    Args:
        data_root (str): ``data/<ds>``, holding ``anns/<split>.json``.
        splits (Sequence[str], optional): Splits to read (``train``...).
            Defaults to None (every ``anns/*.json``).

    Returns:
        list[tuple[str, int, dict]]: (annotation file, index, record).

    Raises:
        FileNotFoundError: If no annotation file (or a named split) exists.
        ValueError: If a file is not a list of records with ``img_name``
            and ``mask_name`` strings.
    """
    ann_dir = osp.join(data_root, 'anns')
    if splits:
        files = [osp.join(ann_dir, f'{s}.json') for s in splits]
        for path in files:
            if not osp.isfile(path):
                raise FileNotFoundError(f'Annotation file not found: {path}')
    else:
        files = sorted(glob.glob(osp.join(ann_dir, '*.json')))
        if not files:
            raise FileNotFoundError(f'No annotation file in {ann_dir}')
    out = []
    for path in files:
        records = read_json(path)
        if not isinstance(records, list):
            raise ValueError(f'{path} does not hold a list of records')
        for i, rec in enumerate(records):
            for key in ('img_name', 'mask_name'):
                if not isinstance(rec, dict) or not isinstance(
                        rec.get(key), str) or not rec[key]:
                    raise ValueError(f'{path}, record {i}: no {key} string')
                norm = osp.normpath(rec[key])
                if osp.isabs(norm) or norm.split(os.sep)[0] == '..':
                    raise ValueError(
                        f'{path}, record {i}: {key} {rec[key]!r} points '
                        'outside the data root; converters only write '
                        'below images/ and masks/')
            out.append((osp.basename(path), i, rec))
    return out


def find_sources(raw_dir: str, dirs: Sequence[str], candidates: List[str],
                 merge: bool) -> List[str]:
    """Find the source file(s) of one output file.

    Args:
        raw_dir (str): The download.
        dirs (Sequence[str]): Folders of ``raw_dir`` to search, in order.
        candidates (list[str]): Relative paths (or glob patterns when
            ``merge``) to try in each folder, in order.
        merge (bool): Return every match of the first folder with one.

    Returns:
        list[str]: The sources found (empty if none).
    """
    for folder in dirs:
        base = osp.join(raw_dir, folder)
        if merge:
            found = set()
            for cand in candidates:
                found.update(glob.glob(osp.join(glob.escape(base), cand)))
            if found:
                return sorted(found)
        else:
            for cand in candidates:
                path = osp.join(base, cand)
                if osp.isfile(path):
                    return [path]
    return []


def binarize(mask: np.ndarray) -> np.ndarray:
    """Binarise a decoded mask (see the module docstring) to bool (H, W).

    Args:
        mask (np.ndarray): (H, W) or (H, W, C) as decoded, any int dtype.

    Returns:
        np.ndarray: bool (H, W), True = foreground.
    """
    if mask.ndim == 3:
        channels = mask.shape[2]
        if channels in (2, 4):  # drop alpha
            mask = mask[..., :channels - 1]
        mask = mask.max(axis=2)
    values = np.unique(mask)
    if len(values) == 1 or (len(values) == 2 and values[0] == 0):
        return mask > 0
    if np.issubdtype(mask.dtype, np.integer):
        return mask > np.iinfo(mask.dtype).max // 2
    return mask > 0.5


def _read(path: str) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f'Cannot decode {path}')
    return img


def _encode(img: np.ndarray, ext: str, path: str) -> bytes:
    ok, buf = cv2.imencode(ext, img)
    if not ok:
        raise ValueError(f'Cannot encode {path} as {ext}')
    return buf.tobytes()


def write_image(src: str, dst: str) -> None:
    """Copy ``src`` to ``dst``, or convert it to the format of ``dst``.

    Args:
        src (str): The source image.
        dst (str): The output path; its extension picks the format.
    """
    src_fmt = _FORMAT.get(osp.splitext(src)[1].lower())
    dst_ext = osp.splitext(dst)[1].lower()
    if src_fmt is not None and src_fmt == _FORMAT.get(dst_ext):
        os.makedirs(osp.dirname(dst) or '.', exist_ok=True)
        tmp = f'{dst}.{os.getpid()}.part'
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    else:
        write_atomic(dst, _encode(_read(src), dst_ext or '.png', dst))


def write_mask(srcs: Sequence[str], dst: str) -> None:
    """Merge and binarise ``srcs`` and write a 0/255 PNG to ``dst``.

    The PNG is written under ``dst`` whatever its extension.

    Args:
        srcs (Sequence[str]): Source masks (their union is taken).
        dst (str): The output path.

    Raises:
        ValueError: If a source cannot be decoded or the sources differ in
            size.
    """
    fg = None
    for src in srcs:
        cur = binarize(_read(src))
        if fg is not None and cur.shape != fg.shape:
            raise ValueError(f'Masks {srcs[0]} and {src} differ in size')
        fg = cur if fg is None else fg | cur
    write_atomic(dst, _encode(fg.astype(np.uint8) * 255, '.png', dst))


def convert(converter: Converter,
            raw_dir: str,
            data_root: str,
            splits: Optional[Sequence[str]] = None,
            skip_missing: bool = False,
            overwrite: bool = False,
            log: Callable[[str], None] = print) -> ConvertReport:
    """Write the images and masks that ``data_root``'s annotations name.

    Args:
        converter (Converter): Where the download keeps the files.
        raw_dir (str): The extracted download.
        data_root (str): ``data/<ds>`` with the shipped ``anns/``; the
            files go to its ``images/`` and ``masks/``.
        splits (Sequence[str], optional): Splits to convert. Defaults to
            None (all annotation files).
        skip_missing (bool): Log records that cannot be converted and
            convert the others instead of raising. Defaults to False.
        overwrite (bool): Replace existing output files. Defaults to False.
        log (Callable[[str], None]): Progress messages. Defaults to print.

    Returns:
        ConvertReport: Counts and skipped records.

    Raises:
        FileNotFoundError: If ``raw_dir`` does not exist.
        MissingSourceError: If a record cannot be converted (e.g. it has no
            source) and not ``skip_missing`` (nothing is written then).
    """
    if not osp.isdir(raw_dir):
        raise FileNotFoundError(f'Download folder not found: {raw_dir}')
    if converter.note:
        log(f'WARNING: {converter.note}')
    converter.prepare(raw_dir, data_root, splits or (), overwrite, log)
    records = read_records(data_root, splits)
    report = ConvertReport(records=len(records))
    # output path -> writer; filled by the complete records only.
    jobs: Dict[str, Writer] = {}
    for ann, idx, rec in records:
        outs, problems = converter.outputs(raw_dir, ann, rec)
        if problems:
            report.skipped.append(f'{ann} record {idx}: ' +
                                  '; '.join(problems))
        else:
            jobs.update((osp.join(data_root, path), write)
                        for path, write in outs.items())
    if report.skipped:
        shown = '\n  '.join(report.skipped[:10])
        more = (f'\n  ... and {len(report.skipped) - 10} more'
                if len(report.skipped) > 10 else '')
        msg = (f'{len(report.skipped)} of {len(records)} records of '
               f'{converter.name} cannot be converted from {raw_dir}:\n'
               f'  {shown}{more}')
        if not skip_missing:
            raise MissingSourceError(
                f'{msg}\nCheck RAW_DIR (see the layout in '
                'tools/dataset_converters/medvlsm.py --help) or pass '
                '--skip-missing to convert the other records.')
        log(f'WARNING: skipping {msg}')
    log(f'{converter.name}: {len(records)} records, {len(jobs)} files to '
        f'write to {data_root}')
    for n, (dst, write) in enumerate(sorted(jobs.items()), 1):
        if osp.exists(dst) and not overwrite:
            report.kept += 1
        else:
            write(dst)
            report.written += 1
        if n % LOG_EVERY == 0 or n == len(jobs):
            log(f'[{n}/{len(jobs)}] {report.written} written, '
                f'{report.kept} kept (existing; --overwrite replaces them)')
    return report
