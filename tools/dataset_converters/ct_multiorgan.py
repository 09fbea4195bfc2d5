# Copyright (c) OpenMMLab. All rights reserved.
"""Convert PUNet's CT multi-organ datasets to 2D slices for
:class:`mmvlsm.datasets.MultiClassSliceDataset`, or to volumes for
:class:`mmvlsm.datasets.MultiClassVolumeDataset` (``--format nifti``).

Output of ``--format png`` (the default), in ``--out-dir`` (default
``data/<dataset>``)::

    images/<subject>_<slice:03d>.png   uint8 grey, CT window [-1000, 1000] HU
                                       mapped linearly to [0, 255] (clipped)
    masks/<subject>_<slice:03d>.png    uint8 class indices, 0 = background
    anns/{train,val,test}.json         {"metainfo": {"classes": [...]},
                                        "data_list": [{"img_name",
                                        "mask_name", "subject", "slice",
                                        "labels"}, ...]}

``labels`` lists the classes present in the slice's mask, ``slice`` is the
index of the slice in the processed volume.

Output of ``--format nifti`` (default ``data/<dataset>_3d``), the same
voxels before the window, one file per subject::

    images/<subject>.nii.gz   int16 HU
    masks/<subject>.nii.gz    uint8 class indices, 0 = background
    anns/{train,val,test}.json  {"metainfo": {"classes": [...]},
                                 "data_list": [{"img_name", "mask_name",
                                 "subject", "labels"}, ...]}

with ``labels`` the classes present in the volume. The volumes carry the
target spacing, an identity direction and a zero origin: their axial
slices (rows = second voxel axis, columns = first, as
:func:`mmvlsm.datasets.volumes.slice_layout` reads them) are the PNGs.

Raw layouts (``--data-root``):

- ``tcia_btcv``: the multi-organ labels of Gibson et al. (zenodo 1169361)
  for 43 TCIA Pancreas-CT and 47 BTCV ("Synapse") volumes, next to the
  images::

      cropping.csv
      image_tcia_multiorgan/PANCREAS_0001.nii   Pancreas-CT DICOM series
                                                converted to NIfTI
      label_tcia_multiorgan/label0001.nii.gz
      image_btcv_multiorgan/img0001.nii.gz      BTCV Abdomen RawData
      label_btcv_multiorgan/label0001.nii.gz

  Images are the ``.nii``/``.nii.gz`` files of an image folder, labels the
  ``label*.nii``/``label*.nii.gz`` files of a label folder (other files are
  ignored); an image and its label share the first 4-digit number of their
  names. ``cropping.csv`` has one row per volume with the columns
  ``publisher`` (``TCIA`` or ``Synapse``), ``original_id`` (that number,
  zero-padding optional) and ``extent_left``, ``extent_right``,
  ``extent_ant``, ``extent_post``, ``extent_inf``, ``extent_sup``. Subjects
  are named ``tcia_<id>`` and ``btcv_<id>``.
- ``ctorg``: the ``OrganSegmentations`` folder of CT-ORG (TCIA):
  ``volume-<id>.nii.gz`` and ``labels-<id>.nii.gz``; subjects are named
  ``ctorg_<id>``.

Volumes are read by :func:`mmvlsm.datasets.volumes.read_volume` and
indexed in the file's voxel order (x, y, z) below. Processing of a volume
(PUNet's ``prepare_tcia.py``, ``prepare_btcv.py``, ``prepare_ctorg.py``
and ``pre_processing._rescale``):

1. TCIA labels are flipped along the third voxel axis (z) to match their
   images (``--no-tcia-label-flip`` turns this off, e.g. for images whose
   slice order was already reversed by the DICOM conversion).
2. TCIA/BTCV volumes are cropped to the ``cropping.csv`` box widened by 24
   voxels in-plane and 3 slices (``--crop-margin``; ``--no-crop``), with
   the csv's extents used as upstream reads them, including its reversal of
   the second axis (``X, Y, Z`` = volume shape, ``m``/``mz`` = margins)::

       x: max(left - m, 0)     : min(right + m, X)
       y: max(Y - post - m, 0) : min(Y - ant + m, Y)
       z: max(inf - mz, 0)     : min(sup + mz, Z)

3. Labels are re-indexed: TCIA/BTCV 0, 1, 3, 4, 5, 6, 7, 11, 14 become
   0 background, 1 spleen, 2 left kidney, 3 gallbladder, 4 esophagus,
   5 liver, 6 stomach, 7 pancreas, 8 duodenum; CT-ORG keeps 0 background,
   1 liver, 2 bladder, 3 lungs, 4 kidneys, 5 bone. Any other label (BTCV's
   other organs, CT-ORG's brain = 6) becomes background. CT-ORG volumes
   without liver are dropped, before the split, as upstream.
4. Resampling to 1.25 x 1.25 mm in-plane and 2.5 mm between slices
   (``--spacing``; voxel sizes from the image header) with
   ``scipy.ndimage.zoom`` (``grid_mode=True``, i.e. voxel extents aligned
   as skimage's ``rescale`` does): linear for images, outside value the
   image minimum, nearest for labels. Downsampled axes of the image are
   first smoothed with skimage's anti-aliasing Gaussian
   (sigma = (input / output size - 1) / 2), as upstream's ``rescale`` did
   by default (``--no-anti-aliasing`` turns it off).
5. Centre padding (with the image minimum; labels with 0) or centre
   cropping to 280 x 280 in-plane (``--size``), as MONAI's
   ``ResizeWithPadOrCrop``.
6. Rounding to whole HU (int16), the CT window
   (``IntensityWindow(level=0, width=2000)`` of
   :mod:`mmvlsm.datasets.volumes`, the rule every mmvlsm tool windows CT
   with), then one PNG pair per slice (``--format nifti`` writes the HU
   volume instead and leaves the window to the loader). A PNG shows the
   slice ``volume[:, :, k]`` transposed (rows = second voxel axis), the
   usual axial view; for a 2D network this only relabels the axes.

Splits are per domain (TCIA, BTCV, CT-ORG) and by subject: scikit-learn's
``train_test_split`` with ``test_size=0.2``, then ``test_size=0.1 / (1 -
0.2)`` of the rest for validation, both shuffled with ``random_state=1``
(``--seed``), on the subjects ordered by their image file names (plain
string order, the order of upstream's sorted paths, so the same subjects
give upstream's split: TCIA 29/5/9, BTCV 32/5/10 train/val/test). The
records of a split follow that subject order, domain by domain, slice by
slice.

Existing annotation files are only replaced with ``--overwrite`` (images
and masks of the same names are then rewritten; others are left in
place).

Example::

    python tools/dataset_converters/ct_multiorgan.py --dataset tcia_btcv \\
        --data-root /data/multi-organ --out-dir data/tcia_btcv
    python tools/dataset_converters/ct_multiorgan.py --dataset tcia_btcv \\
        --data-root /data/multi-organ --format nifti
"""
import argparse
import csv
import json
import multiprocessing
import os
import os.path as osp
import re
import sys
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from sklearn.model_selection import train_test_split

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmvlsm.datasets.volumes import (
    IntensityWindow,
    read_volume,  # noqa: E402
    write_volume)
from mmvlsm.utils.paths import check_not_an_input, write_atomic  # noqa: E402

# [-1000, 1000] HU -> 0..255.
HU_WINDOW = IntensityWindow(level=0.0, width=2000.0)
SPLITS = ('train', 'val', 'test')
# Output formats: 2D slices or whole volumes.
FORMATS = ('png', 'nifti')
# (train, val, test) fractions of each domain's subjects.
SPLIT_RATIOS = (0.7, 0.1, 0.2)
TCIA_BTCV_CLASSES = ('background', 'spleen', 'left kidney', 'gallbladder',
                     'esophagus', 'liver', 'stomach', 'pancreas', 'duodenum')
# Original label value -> class index; BTCV's other organs -> background.
TCIA_BTCV_LABELS = {1: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 11: 7, 14: 8}
CTORG_CLASSES = ('background', 'liver', 'bladder', 'lungs', 'kidneys', 'bone')
# Brain (6) -> background.
CTORG_LABELS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5}
CTORG_LIVER = 1
# domain -> (publisher in cropping.csv, image folder, label folder).
MULTIORGAN_DOMAINS = {
    'tcia': ('TCIA', 'image_tcia_multiorgan', 'label_tcia_multiorgan'),
    'btcv': ('Synapse', 'image_btcv_multiorgan', 'label_btcv_multiorgan'),
}
CROP_COLUMNS = ('extent_left', 'extent_right', 'extent_ant', 'extent_post',
                'extent_inf', 'extent_sup')
NIFTI_SUFFIXES = ('.nii', '.nii.gz')


class Subject(NamedTuple):
    """One raw volume and its label map."""
    name: str
    domain: str
    image: str
    label: str
    # cropping.csv extents (left, right, ant, post, inf, sup), TCIA/BTCV.
    extents: Optional[Tuple[int, ...]] = None


class Options(NamedTuple):
    """How volumes are processed (see the module docstring)."""
    out_dir: str
    spacing: Tuple[float, float, float] = (1.25, 1.25, 2.5)
    size: Tuple[int, int] = (280, 280)
    crop_margin: Optional[Tuple[int, int]] = (24, 3)
    tcia_label_flip: bool = True
    anti_aliasing: bool = True
    format: str = 'png'


def is_nifti(name: str) -> bool:
    return name.endswith(NIFTI_SUFFIXES)


def list_by_id(folder: str,
               pattern: str,
               name_filter=lambda name: True) -> Dict[str, str]:
    """Map the first match of ``pattern`` in each NIfTI name to its path.

    Raises:
        FileNotFoundError: If ``folder`` is not a directory.
        ValueError: If a name holds no id or two files share one.
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'folder not found: {folder}')
    found: Dict[str, str] = {}
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        if not (is_nifti(name) and name_filter(name) and osp.isfile(path)):
            continue
        match = re.search(pattern, name)
        if match is None:
            raise ValueError(f'{path}: no subject number in the file name '
                             f'(pattern {pattern!r})')
        key = match.group(0)
        if key in found:
            raise ValueError(f'{found[key]} and {path} have the same subject '
                             f'number {key}')
        found[key] = path
    return found


def pair_files(images: Dict[str, str], labels: Dict[str, str],
               where: str) -> List[Tuple[str, str, str]]:
    """(id, image, label) sorted by image file name; all must pair up."""
    for ids, other, kind in ((images, labels, 'label'), (labels, images,
                                                         'image')):
        unpaired = sorted(set(ids) - set(other))
        if unpaired:
            raise ValueError(f'{ids[unpaired[0]]} has no {kind} in {where} '
                             f'({len(unpaired)} unpaired files)')
    if not images:
        raise ValueError(f'no NIfTI volumes found in {where}')
    return sorted(((key, path, labels[key]) for key, path in images.items()),
                  key=lambda item: osp.basename(item[1]))


def read_cropping(path: str) -> Dict[Tuple[str, str], Tuple[int, ...]]:
    """(publisher, 4-digit id) -> the six extents of ``cropping.csv``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If a column is missing, a value is not an integer or a
            volume appears twice (the line is named).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'cropping file not found: {path}')
    extents = {}
    with open(path, newline='', encoding='utf-8-sig') as f:
        reader = csv.DictReader(f)
        needed = ('publisher', 'original_id') + CROP_COLUMNS
        missing = [c for c in needed if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f'{path} lacks the column(s) {missing}; its '
                             f'header is {reader.fieldnames}')
        for row in reader:
            where = f'{path}, line {reader.line_num}'
            try:
                key = (row['publisher'].strip(),
                       str(int(row['original_id'])).zfill(4))
                values = tuple(int(row[c]) for c in CROP_COLUMNS)
            except (TypeError, ValueError) as err:
                raise ValueError(f'{where}: {err}') from err
            if key in extents:
                raise ValueError(f'{where}: {key[0]} volume {key[1]} appears '
                                 'twice')
            extents[key] = values
    return extents


def find_multiorgan(data_root: str,
                    cropping_csv: Optional[str] = None,
                    need_crop: bool = True) -> List[Subject]:
    """The TCIA and BTCV subjects of Gibson et al.'s multi-organ labels."""
    crop = (
        read_cropping(cropping_csv or osp.join(data_root, 'cropping.csv'))
        if need_crop else {})
    subjects = []
    for domain, (publisher, img_dir, lbl_dir) in MULTIORGAN_DOMAINS.items():
        images = list_by_id(osp.join(data_root, img_dir), r'\d{4}')
        labels = list_by_id(
            osp.join(data_root, lbl_dir), r'\d{4}',
            lambda name: name.startswith('label'))
        for key, image, label in pair_files(
                images, labels, f'{data_root}/{{{img_dir},{lbl_dir}}}'):
            extents = None
            if need_crop:
                if (publisher, key) not in crop:
                    raise ValueError(
                        f'{image}: no {publisher} row with original_id {key} '
                        'in the cropping file')
                extents = crop[(publisher, key)]
            subjects.append(
                Subject(f'{domain}_{key}', domain, image, label, extents))
    return subjects


def find_ctorg(data_root: str) -> List[Subject]:
    """The CT-ORG subjects (``volume-<id>`` with ``labels-<id>``)."""
    images = list_by_id(data_root, r'\d+',
                        lambda name: name.startswith('volume'))
    labels = list_by_id(data_root, r'\d+',
                        lambda name: name.startswith('labels'))
    return [
        Subject(f'ctorg_{key}', 'ctorg', image, label)
        for key, image, label in pair_files(images, labels, data_root)
    ]


def load_volume(path: str,
                is_label: bool) -> Tuple[np.ndarray, Tuple[float, ...]]:
    """A 3D NIfTI as float32 (image) or integers (label) and its voxel size.

    The volume is read by :func:`mmvlsm.datasets.volumes.read_volume`
    (``scl_slope``/``scl_inter`` applied) and its (z, y, x) array
    transposed here, once, to the file's voxel order (x, y, z), the order
    of ``cropping.csv``'s extents, the TCIA flip and ``--spacing``.

    Raises:
        ValueError: Naming the file, if it cannot be read, is not 3D or
            (an image) does not state a positive voxel size.
    """
    volume = read_volume(path)
    if volume.image.GetDimension() != 3:
        raise ValueError(f'{path} has size {volume.image.GetSize()}; '
                         'expected a 3D volume')
    if not (is_label or volume.spacing_declared):
        raise ValueError(f'{path}: the voxel size in the header is not '
                         'positive')
    data = volume.array.transpose(2, 1, 0)
    if not is_label:
        data = data.astype(np.float32, copy=False)
    elif not np.issubdtype(data.dtype, np.integer):
        # Integer labels keep their stored (small) type.
        data = np.rint(data).astype(np.int32)
    return data, volume.image.GetSpacing()


def crop_slices(shape: Sequence[int], extents: Sequence[int], margin: int,
                margin_z: int) -> Tuple[slice, slice, slice]:
    """The crop of the module docstring for a volume of ``shape``."""
    size_x, size_y, size_z = shape
    left, right, ant, post, inf, sup = extents
    return (slice(max(left - margin, 0), min(right + margin, size_x)),
            slice(
                max(size_y - post - margin, 0),
                min(size_y - ant + margin, size_y)),
            slice(max(inf - margin_z, 0), min(sup + margin_z, size_z)))


def remap_labels(labels: np.ndarray, mapping: Dict[int, int]) -> np.ndarray:
    """uint8 class indices; values not in ``mapping`` become 0."""
    out = np.zeros(labels.shape, np.uint8)
    for value, index in mapping.items():
        out[labels == value] = index
    return out


def resample(volume: np.ndarray, factors: Sequence[float], order: int,
             cval: float, anti_aliasing: bool) -> np.ndarray:
    """Zoom ``volume`` by ``factors`` (output / input voxel counts).

    The output shape is ``round(shape * factors)``; voxel extents are
    aligned (``grid_mode=True``) and samples outside take ``cval``.
    """
    out_shape = [
        max(1, int(round(n * f))) for n, f in zip(volume.shape, factors)
    ]
    if anti_aliasing:
        sigma = [
            max(0.0, (n / m - 1) / 2) for n, m in zip(volume.shape, out_shape)
        ]
        if any(sigma):
            volume = ndimage.gaussian_filter(
                volume, sigma, mode='constant', cval=cval)
    zoom = [m / n for n, m in zip(volume.shape, out_shape)]
    return ndimage.zoom(
        volume,
        zoom,
        order=order,
        mode='grid-constant',
        cval=cval,
        grid_mode=True)


def pad_or_crop(volume: np.ndarray, size: Sequence[int],
                value: float) -> np.ndarray:
    """Centre-pad with ``value`` or centre-crop the first axes to ``size``.

    The split of odd differences is MONAI's: padding puts the extra voxel
    after, cropping starts at ``n // 2 - size // 2``.
    """
    for axis, target in enumerate(size):
        n = volume.shape[axis]
        if n < target:
            width = [(0, 0)] * volume.ndim
            width[axis] = ((target - n) // 2, target - n - (target - n) // 2)
            volume = np.pad(volume, width, constant_values=value)
        elif n > target:
            start = n // 2 - target // 2
            volume = np.take(volume, range(start, start + target), axis=axis)
    return volume


def label_mapping(domain: str) -> Dict[int, int]:
    return CTORG_LABELS if domain == 'ctorg' else TCIA_BTCV_LABELS


def preprocess_subject(
        subject: Subject,
        options: Options) -> Optional[Tuple[np.ndarray, np.ndarray, str]]:
    """Steps 1-5 of the module docstring for one volume.

    Returns:
        tuple | None: The image (int16 HU) and labels (uint8 class indices),
        both (x, y, z) at ``options.spacing``, and a log line; None for a
        dropped subject (CT-ORG without liver).

    Raises:
        ValueError: For an unreadable volume, an image and label of
            different shapes, a bad voxel size or an empty crop (the file
            is named).
    """
    image, zooms = load_volume(subject.image, is_label=False)
    labels, _ = load_volume(subject.label, is_label=True)
    if image.shape != labels.shape:
        raise ValueError(f'{subject.image} has shape {image.shape} but its '
                         f'label {subject.label} has {labels.shape}')
    raw_shape = image.shape
    if subject.domain == 'ctorg' and not (labels == CTORG_LIVER).any():
        return None
    if subject.domain == 'tcia' and options.tcia_label_flip:
        labels = labels[:, :, ::-1]
    if subject.extents is not None and options.crop_margin is not None:
        box = crop_slices(image.shape, subject.extents, *options.crop_margin)
        image, labels = image[box], labels[box]
        if image.size == 0:
            raise ValueError(
                f'{subject.image}: the cropping extents {subject.extents} '
                f'leave nothing of its {raw_shape} voxels')
    labels = remap_labels(labels, label_mapping(subject.domain))
    factors = [z / s for z, s in zip(zooms, options.spacing)]
    image = resample(image, factors, 1, float(image.min()),
                     options.anti_aliasing)
    labels = resample(labels, factors, 0, 0, False)
    resampled_shape = image.shape
    image = pad_or_crop(image, options.size, float(image.min()))
    labels = pad_or_crop(labels, options.size, 0)
    # CT stores whole HU; both formats window these integers.
    info = np.iinfo(np.int16)
    image = np.clip(np.rint(image), info.min, info.max).astype(np.int16)
    zooms_text = ' x '.join(f'{z:.3g}' for z in zooms)
    return image, labels, (f'{raw_shape} voxels of {zooms_text} mm -> '
                           f'{resampled_shape} -> {image.shape}')


def present_classes(labels: np.ndarray) -> List[int]:
    """The foreground class indices in ``labels``, ascending."""
    return [int(v) for v in np.unique(labels) if v != 0]


def write_slices(name: str, image: np.ndarray, labels: np.ndarray,
                 out_dir: str) -> List[dict]:
    """One windowed image PNG and one mask PNG per slice; their records.

    A PNG shows ``volume[:, :, k].T`` (rows = second voxel axis).
    """
    image = HU_WINDOW.resolve(image).to_uint8(image)
    records = []
    for k in range(image.shape[2]):
        file_name = f'{name}_{k:03d}.png'
        mask = np.ascontiguousarray(labels[:, :, k].T)
        for folder, data in (('images', image[:, :, k].T), ('masks', mask)):
            path = osp.join(out_dir, folder, file_name)
            if not cv2.imwrite(path, np.ascontiguousarray(data)):
                raise OSError(f'cannot write {path}')
        records.append(
            dict(
                img_name=file_name,
                mask_name=file_name,
                subject=name,
                slice=k,
                labels=present_classes(mask)))
    return records


def write_volumes(name: str, image: np.ndarray, labels: np.ndarray,
                  options: Options) -> List[dict]:
    """The image (int16 HU) and labels (uint8) as NIfTI; their one record.

    The arrays are written in the voxel order of the PNGs with an identity
    direction and zero origin (the raw orientation is not kept, as for the
    PNGs), so the axial layout of
    :func:`mmvlsm.datasets.volumes.slice_layout` gives the PNG slices:
    rows = y, columns = x, slices = z.
    """
    file_name = f'{name}.nii.gz'
    for folder, data in (('images', image), ('masks', labels)):
        # SimpleITK's arrays are (z, y, x).
        volume = sitk.GetImageFromArray(
            np.ascontiguousarray(data.transpose(2, 1, 0)))
        volume.SetSpacing(tuple(float(s) for s in options.spacing))
        write_volume(volume, osp.join(options.out_dir, folder, file_name))
    return [
        dict(
            img_name=file_name,
            mask_name=file_name,
            subject=name,
            labels=present_classes(labels))
    ]


def process_subject(subject: Subject,
                    options: Options) -> Tuple[List[dict], str]:
    """Convert one volume; return its records and a log line.

    A dropped subject (CT-ORG without liver) has no records.

    Raises:
        ValueError: See :func:`preprocess_subject`.
        OSError: If a file cannot be written.
    """
    processed = preprocess_subject(subject, options)
    if processed is None:
        return [], f'{subject.name}: no liver in {subject.label}, dropped'
    image, labels, log = processed
    if options.format == 'nifti':
        records = write_volumes(subject.name, image, labels, options)
    else:
        records = write_slices(subject.name, image, labels, options.out_dir)
    return records, (f'{subject.name}: {log}, classes '
                     f'{present_classes(labels)}')


def split_subjects(
        names: Sequence[str],
        seed: int = 1,
        ratios: Sequence[float] = SPLIT_RATIOS) -> Dict[str, List[str]]:
    """Split one domain's subjects as upstream's ``_generate_splits``.

    Returns:
        dict[str, list[str]]: train, val and test subjects, each in the
        order of ``names``.

    Raises:
        ValueError: If there are too few subjects for three splits.
    """
    try:
        train_val, test = train_test_split(
            list(names), test_size=ratios[2], shuffle=True, random_state=seed)
        train, val = train_test_split(
            train_val,
            test_size=ratios[1] / (1 - ratios[2]),
            shuffle=True,
            random_state=seed)
    except ValueError as err:
        raise ValueError(f'{len(names)} subjects cannot be split into '
                         f'train/val/test ({err})') from err
    chosen = dict(train=set(train), val=set(val), test=set(test))
    return {
        split: [n for n in names if n in chosen[split]]
        for split in SPLITS
    }


def _process(item):
    subject, options = item
    return process_subject(subject, options)


def convert(subjects: Sequence[Subject],
            classes: Sequence[str],
            options: Options,
            seed: int = 1,
            workers: int = 1) -> Dict[str, dict]:
    """Write the outputs of all subjects; return the annotation files'
    content.

    Args:
        subjects (Sequence[Subject]): In the order that the split sees.
        classes (Sequence[str]): Class names, background first.
        options (Options): The processing options.
        seed (int): ``random_state`` of the splits. Defaults to 1.
        workers (int): Processes converting volumes. Defaults to 1.

    Returns:
        dict[str, dict]: ``train``, ``val`` and ``test`` -> annotation
        content.
    """
    for folder in ('images', 'masks'):
        os.makedirs(osp.join(options.out_dir, folder), exist_ok=True)
    items = [(subject, options) for subject in subjects]
    records = {}
    if workers > 1:
        with multiprocessing.Pool(workers) as pool:
            results = pool.imap(_process, items)
            for i, (subject, (recs, log)) in enumerate(zip(subjects, results)):
                print(f'[{i + 1}/{len(subjects)}] {log}', flush=True)
                records[subject.name] = recs
    else:
        for i, item in enumerate(items):
            recs, log = _process(item)
            print(f'[{i + 1}/{len(subjects)}] {log}', flush=True)
            records[item[0].name] = recs

    data_lists = {split: [] for split in SPLITS}
    for domain in dict.fromkeys(s.domain for s in subjects):
        kept = [
            s.name for s in subjects if s.domain == domain and records[s.name]
        ]
        try:
            splits = split_subjects(kept, seed)
        except ValueError as err:
            raise ValueError(f'domain {domain}: {err}') from err
        for split, names in splits.items():
            for name in names:
                data_lists[split] += records[name]
        print(
            f'{domain}: ' + ', '.join(f'{split} {len(names)}'
                                      for split, names in splits.items()) +
            ' subjects',
            flush=True)
    return {
        split: dict(metainfo=dict(classes=list(classes)), data_list=data)
        for split, data in data_lists.items()
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Convert PUNet's CT multi-organ datasets (TCIA/BTCV, "
        'CT-ORG) to 2D PNG slices or NIfTI volumes and subject-level '
        'splits.')
    parser.add_argument(
        '--dataset', required=True, choices=('tcia_btcv', 'ctorg'))
    parser.add_argument(
        '--data-root', required=True, help='the raw layout (see --help)')
    parser.add_argument(
        '--format',
        choices=FORMATS,
        default='png',
        help='2D PNG slices, or NIfTI volumes for 3D models')
    parser.add_argument(
        '--out-dir',
        help='output folder (default: data/<dataset>, data/<dataset>_3d '
        'for nifti)')
    parser.add_argument(
        '--cropping-csv',
        help='tcia_btcv: crop extents (default: DATA_ROOT/cropping.csv)')
    parser.add_argument(
        '--crop-margin',
        type=int,
        nargs=2,
        default=(24, 3),
        metavar=('XY', 'Z'),
        help='tcia_btcv: voxels added around the crop box')
    parser.add_argument(
        '--no-crop',
        action='store_true',
        help='tcia_btcv: keep whole volumes (no cropping.csv needed)')
    parser.add_argument(
        '--no-tcia-label-flip',
        action='store_true',
        help='tcia_btcv: do not flip the TCIA labels along z')
    parser.add_argument(
        '--spacing',
        type=float,
        nargs=3,
        default=(1.25, 1.25, 2.5),
        metavar=('X', 'Y', 'Z'),
        help='target voxel size in mm')
    parser.add_argument(
        '--size',
        type=int,
        nargs=2,
        default=(280, 280),
        metavar=('X', 'Y'),
        help='in-plane size after padding or cropping')
    parser.add_argument(
        '--no-anti-aliasing',
        action='store_true',
        help='no Gaussian smoothing of downsampled image axes')
    parser.add_argument(
        '--seed', type=int, default=1, help='random_state of the splits')
    parser.add_argument(
        '--workers', type=int, default=1, help='volumes converted at once')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace existing annotation files')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    out_dir = args.out_dir or osp.join(
        'data', args.dataset + ('_3d' if args.format == 'nifti' else ''))
    if min(args.spacing) <= 0 or min(args.size) < 1 or args.workers < 1:
        raise SystemExit('error: --spacing, --size and --workers must be '
                         'positive')
    try:
        check_not_an_input(out_dir, [args.data_root, args.cropping_csv],
                           'the output folder')
    except ValueError as err:
        raise SystemExit(f'error: {err}')
    existing = [
        osp.join(out_dir, 'anns', f'{split}.json') for split in SPLITS
        if osp.exists(osp.join(out_dir, 'anns', f'{split}.json'))
    ]
    if existing and not args.overwrite:
        raise SystemExit(f'error: {existing} already exist; pass --overwrite '
                         'to replace them')
    options = Options(
        out_dir=out_dir,
        spacing=tuple(args.spacing),
        size=tuple(args.size),
        crop_margin=None if args.no_crop else tuple(args.crop_margin),
        tcia_label_flip=not args.no_tcia_label_flip,
        anti_aliasing=not args.no_anti_aliasing,
        format=args.format)
    try:
        if args.dataset == 'ctorg':
            subjects, classes = find_ctorg(args.data_root), CTORG_CLASSES
        else:
            subjects = find_multiorgan(args.data_root, args.cropping_csv,
                                       not args.no_crop)
            classes = TCIA_BTCV_CLASSES
        print(
            f'{len(subjects)} {args.dataset} subjects in {args.data_root} '
            f'-> {out_dir}',
            flush=True)
        anns = convert(subjects, classes, options, args.seed, args.workers)
    except (OSError, ValueError) as err:
        raise SystemExit(f'error: {err}')
    for split, content in anns.items():
        path = osp.join(out_dir, 'anns', f'{split}.json')
        write_atomic(path, json.dumps(content))
        unit = 'volumes' if args.format == 'nifti' else 'slices'
        print(f'{path}: {len(content["data_list"])} {unit}', flush=True)


if __name__ == '__main__':
    main()
