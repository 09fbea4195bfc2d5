# Copyright (c) OpenMMLab. All rights reserved.
"""CAMUS (echocardiography, 3 structures) in the medvlsm layout.

The download (the CAMUS challenge release, ``training.zip`` and
``testing.zip`` extracted side by side) holds one folder per patient::

    RAW_DIR/{training,testing}/patientNNNN/
        patientNNNN_{2CH,4CH}_{ED,ES}.mhd (+ .raw)   the frames
        patientNNNN_{2CH,4CH}_{ED,ES}_gt.mhd         label maps 0..3
        Info_{2CH,4CH}.cfg                           Sex, Age, ImageQuality

(``.nii.gz`` frames are read too; ``RAW_DIR`` may also be the folder holding
``camus_database/``). Label 1 is the left ventricular cavity, 2 the
myocardium and 3 the left atrium.

medvlsm's records are image x structure: ``img_name``
``patientNNNN_2CH_ED.png`` and ``mask_name`` ``mask_<label>/patientNNNN_
2CH_ED_gt.png``. The shipped ``val.json`` names training patients 1-50 and
``test.json`` the 50 testing patients, which are numbered 1-50 as well, so
the two cannot share a folder: as upstream, the files go to
``images/{train,test}/`` and ``masks/{train,test}/`` (train and val records
to ``train/``, test records to ``test/``), and
``configs/_base_/datasets/camus.py`` points each split's ``data_prefix``
there. Frames and label maps are read by
:func:`mmvlsm.datasets.volumes.read_volume`; frames are written as 8-bit
PNG at their own resolution, masks as 0/255 PNG of one label.

Two upstream gaps are filled here:

- ``train.json`` is missing upstream. medvlsm's split script draws a random
  patient-level 80/10/10 split (seed 444), but the shipped ``val.json`` is
  exactly training patients 1-50, so that draw is not what produced the
  released files and repeating it would put validation patients into
  training. ``train.json`` is rebuilt from the rule the shipped files imply:
  every training patient not named in ``val.json`` (patients 51-450 of the
  challenge release: 400 patients, 4,800 records), in the same record
  format and order as ``val.json``.
- Its prompts follow medvlsm's CAMUS templates (:func:`camus_prompts`).
  p1-p6 come from the frame's name and ``Info_<view>.cfg`` as upstream; p7's
  shape, which upstream asked a VQA model for, is measured on the mask
  (``mmvlsm.datasets.prompt_generation.shape_of``: round, oval or
  irregular).

Every shipped record's p1-p6 are compared with the ones the download gives
(sex, age and image quality of that patient): since validation and test
patients share numbers, this catches a testing patient filed under
``training/`` (or a download that numbers patients differently), which
would otherwise give images that do not match their prompts.
"""
import glob
import json
import os.path as osp
import re
from functools import partial
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from medvlsm_common import Converter, Writer, read_records, write_atomic
from num2words import num2words

# medvlsm_common has put the repository on sys.path.
from mmvlsm.datasets.prompt_generation import shape_of
from mmvlsm.datasets.volumes import read_volume

STRUCTURES = ('Left ventricular cavity', 'Myocardium', 'Left atrium cavity')
VIEWS = {'2CH': 'two', '4CH': 'four'}
PHASES = {'ED': 'diastole', 'ES': 'systole'}
# The two phrasings of every prompt (each prompt value is a 2-item list).
PLACES = ('of the heart', 'in the cardiac ultrasound')
# Annotation file -> the download's folder and the output sub-folder.
SPLITS = {
    'train.json': ('training', 'train'),
    'val.json': ('training', 'train'),
    'test.json': ('testing', 'test'),
}
ROOTS = ('', 'camus_database')
PATIENTS_PER_LOG = 50
EXTS = ('.mhd', '.nii.gz', '.nii')
FRAME = re.compile(r'^(patient\d+)_(2CH|4CH)_(ED|ES)$')
MASK = re.compile(r'^mask_([123])/(patient\d+_(?:2CH|4CH)_(?:ED|ES))_gt\.png$')


def camus_prompts(structure: str, view: str, phase: str,
                  info: Dict[str, str], shape: str) -> Dict[str, object]:
    """medvlsm's CAMUS prompts p0..p7 of one structure in one frame.

    Args:
        structure (str): One of :data:`STRUCTURES`.
        view (str): ``'2CH'`` or ``'4CH'``.
        phase (str): ``'ED'`` or ``'ES'``.
        info (dict[str, str]): The view's ``Info_*.cfg`` (``Sex`` F/M,
            ``Age``, ``ImageQuality``).
        shape (str): The shape word of p7.

    Returns:
        dict: ``p0`` ``''`` and ``p1``..``p7``, each a list of two
        phrasings ("... of the heart." / "... in the cardiac ultrasound.").
    """
    gender = 'female' if info['Sex'] == 'F' else 'male'
    chamber = f' in {VIEWS[view]}-chamber view'
    cycle = f' at end of the {PHASES[phase]} cycle'
    aged = f' of a {num2words(int(info["Age"]))}-year-old {gender}'
    quality = f' with {info["ImageQuality"].lower()} image quality'

    def both(subject: str, view_part: str, tail: str) -> List[str]:
        return [f'{subject}{view_part} {place}{tail}.' for place in PLACES]

    return dict(
        p0='',
        p1=both(structure, '', ''),
        p2=both(structure, chamber, ''),
        p3=both(structure, chamber, cycle),
        p4=both(structure, chamber, f'{cycle} of a {gender}'),
        p5=both(structure, chamber, cycle + aged),
        p6=both(structure, chamber, cycle + aged + quality),
        p7=both(f'{structure} of {shape} shape', chamber,
                cycle + aged + quality))


def read_info(path: str) -> Dict[str, str]:
    """A patient's ``Info_<view>.cfg`` (``Key: value`` lines).

    Raises:
        ValueError: If ``Sex``, ``Age`` or ``ImageQuality`` is missing or
            malformed.
    """
    with open(path, encoding='utf-8') as f:
        info = dict(
            (key.strip(), value.strip())
            for key, value in (line.split(':', 1) for line in f
                               if ':' in line))
    if (info.get('Sex') not in ('F', 'M')
            or not info.get('Age', '').isdigit()
            or not info.get('ImageQuality')):
        raise ValueError(f'{path}: expected "Sex: F|M", "Age: <years>" and '
                         f'"ImageQuality: <word>" lines, got {info}')
    return info


def read_frame(path: str) -> np.ndarray:
    """One 2D frame of a CAMUS volume file as an (H, W) array.

    Raises:
        ValueError: Naming the file, if it cannot be read
            (:func:`mmvlsm.datasets.volumes.read_volume`) or is not one 2D
            frame.
    """
    array = read_volume(path).array
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f'{path} holds an array of shape {array.shape}, '
                         'not one 2D frame')
    return array


def write_frame(src: str, dst: str) -> None:
    """Write a frame as an 8-bit PNG.

    Raises:
        ValueError: If its values do not fit 8 bits.
    """
    frame = read_frame(src)
    if frame.dtype != np.uint8:
        if frame.min() < 0 or frame.max() > 255:
            raise ValueError(f'{src}: values {frame.min()}..{frame.max()} '
                             'do not fit an 8-bit image')
        frame = frame.astype(np.uint8)
    write_atomic(dst, cv2.imencode('.png', frame)[1].tobytes())


def write_structure(src: str, label: int, image: str, dst: str) -> None:
    """Write one label of a label map as a 0/255 PNG.

    Args:
        src (str): The label map (``*_gt.mhd``).
        label (int): 1, 2 or 3.
        image (str): The frame it annotates (its size must match).
        dst (str): The output PNG.

    Raises:
        ValueError: If the map holds labels other than 0..3 or its size
            differs from the frame's.
    """
    labels = read_frame(src)
    extra = set(np.unique(labels).tolist()) - {0, 1, 2, 3}
    if extra:
        raise ValueError(f'{src} holds labels {sorted(extra)}; CAMUS label '
                         'maps hold 0 (background) and 1..3')
    height, width = read_frame(image).shape
    if labels.shape != (height, width):
        raise ValueError(f'{src} is {labels.shape[1]}x{labels.shape[0]} but '
                         f'its frame {image} is {width}x{height}')
    mask = (labels == label).astype(np.uint8) * 255
    write_atomic(dst, cv2.imencode('.png', mask)[1].tobytes())


def find_volume(patient_dir: str, stem: str) -> Optional[str]:
    """The frame file ``<stem><ext>`` of a patient folder, if any."""
    for ext in EXTS:
        path = osp.join(patient_dir, stem + ext)
        if osp.isfile(path):
            return path
    return None


class CamusConverter(Converter):
    """Converts the CAMUS download (see the module docstring).

    Args:
        check_prompts (bool): Compare the records' p1-p6 with the
            download's patient information. Defaults to True.
    """
    name = 'camus'
    note = ''

    def __init__(self, check_prompts: bool = True) -> None:
        self.check_prompts = check_prompts
        self._infos: Dict[str, Dict[str, str]] = {}

    @staticmethod
    def folder(raw_dir: str, kind: str) -> Optional[str]:
        """``training`` or ``testing`` folder of the download, if any."""
        for root in ROOTS:
            path = osp.join(raw_dir, root, kind)
            if osp.isdir(path):
                return path
        return None

    def info(self, patient_dir: str, view: str) -> Dict[str, str]:
        """The (cached) ``Info_<view>.cfg`` of a patient folder."""
        path = osp.join(patient_dir, f'Info_{view}.cfg')
        if path not in self._infos:
            self._infos[path] = read_info(path)
        return self._infos[path]

    def prepare(self, raw_dir: str, data_root: str, splits: Sequence[str],
                overwrite: bool, log: Callable[[str], None]) -> None:
        """Build ``anns/train.json`` when it is missing (or ``overwrite``).

        Raises:
            FileNotFoundError: If ``anns/val.json`` (whose patients are left
                out) or the download's ``training`` folder is missing.
        """
        out = osp.join(data_root, 'anns', 'train.json')
        if (splits and 'train' not in splits) or (osp.exists(out)
                                                  and not overwrite):
            return
        val_file = osp.join(data_root, 'anns', 'val.json')
        if not osp.isfile(val_file):
            raise FileNotFoundError(
                f'{val_file} is needed to build train.json: its patients are '
                'kept out of training')
        training = self.folder(raw_dir, 'training')
        if training is None:
            looked = ' or '.join(osp.join(r, 'training') for r in ROOTS)
            raise FileNotFoundError(
                'The CAMUS training folder is needed to build train.json; '
                f'looked for {looked} in {raw_dir}')
        val_patients = {
            rec['img_name'].split('_')[0]
            for _, _, rec in read_records(data_root, ['val'])
        }
        patients = sorted(
            osp.basename(p)
            for p in glob.glob(osp.join(glob.escape(training), 'patient*'))
            if osp.isdir(p) and osp.basename(p) not in val_patients)
        records = []
        for n, patient in enumerate(patients, 1):
            records += self.patient_records(
                osp.join(training, patient), patient, log)
            if n % PATIENTS_PER_LOG == 0 or n == len(patients):
                log(f'camus: train.json [{n}/{len(patients)}] patients, '
                    f'{len(records)} records')
        write_atomic(out, json.dumps(records).encode('utf-8'))
        log(f'camus: wrote {out}: {len(records)} records of {len(patients)} '
            f'training patients (the {len(val_patients)} patients of '
            'val.json left out)')

    def patient_records(self, patient_dir: str, patient: str,
                        log: Callable[[str], None]) -> List[dict]:
        """The records of one training patient, in ``val.json``'s order."""
        records = []
        for view in VIEWS:
            for phase in PHASES:
                stem = f'{patient}_{view}_{phase}'
                image = find_volume(patient_dir, stem)
                labels = find_volume(patient_dir, f'{stem}_gt')
                if image is None or labels is None:
                    log(f'WARNING: camus: {stem} has no frame or no label '
                        f'map in {patient_dir}; left out of train.json')
                    continue
                label_map = read_frame(labels)
                for label, structure in enumerate(STRUCTURES, 1):
                    region = label_map == label
                    if not region.any():
                        log(f'WARNING: camus: {labels} has no label {label} '
                            f'({structure}); left out of train.json')
                        continue
                    records.append(
                        dict(
                            img_name=f'{stem}.png',
                            mask_name=f'mask_{label}/{stem}_gt.png',
                            prompts=camus_prompts(
                                structure, view, phase,
                                self.info(patient_dir, view),
                                shape_of(region))))
        return records

    def outputs(self, raw_dir: str, ann: str,
                record: dict) -> Tuple[Dict[str, Writer], List[str]]:
        """The frame and structure mask of a record."""
        if ann not in SPLITS:
            return {}, [f'CAMUS annotation files are {", ".join(SPLITS)}; '
                        f'{ann} names no download folder']
        kind, sub = SPLITS[ann]
        stem = osp.splitext(record['img_name'])[0]
        frame, mask = FRAME.match(stem), MASK.match(record['mask_name'])
        if not frame or not mask or mask.group(2) != stem:
            return {}, [f'{record["img_name"]!r} / {record["mask_name"]!r} '
                        'are not a CAMUS frame (patientNNNN_<2CH|4CH>_<ED|'
                        'ES>.png) and one of its masks (mask_<1|2|3>/<frame>'
                        '_gt.png)']
        patient, view, phase = frame.groups()
        folder = self.folder(raw_dir, kind)
        patient_dir = osp.join(folder or osp.join(raw_dir, kind), patient)
        image = find_volume(patient_dir, stem)
        labels = find_volume(patient_dir, f'{stem}_gt')
        problems = [
            f'{what} has no source (looked for {name}{{{",".join(EXTS)}}} '
            f'in {patient_dir})'
            for what, name, path in (('image', stem, image),
                                     ('mask', f'{stem}_gt', labels))
            if path is None
        ]
        if problems:
            return {}, problems
        if self.check_prompts:
            problems = self.compare_prompts(patient_dir, record, view, phase,
                                            int(mask.group(1)))
        return {
            osp.join('images', sub, record['img_name']):
            partial(write_frame, image),
            osp.join('masks', sub, record['mask_name']):
            partial(write_structure, labels, int(mask.group(1)), image)
        }, problems

    def compare_prompts(self, patient_dir: str, record: dict, view: str,
                        phase: str, label: int) -> List[str]:
        """Problems where the record's p1-p6 differ from the download's."""
        cfg = osp.join(patient_dir, f'Info_{view}.cfg')
        if not osp.isfile(cfg):
            return [f'{cfg} is missing (needed to check the prompts; '
                    '--no-prompt-check skips the check)']
        info = self.info(patient_dir, view)
        expected = camus_prompts(STRUCTURES[label - 1], view, phase, info, '')
        for key in ('p1', 'p2', 'p3', 'p4', 'p5', 'p6'):
            given = record.get('prompts', {}).get(key)
            if given != expected[key]:
                facts = ', '.join(f'{k} {info[k]}'
                                  for k in ('Sex', 'Age', 'ImageQuality'))
                return [f'its {key} {given!r} does not match the download '
                        f'({cfg} gives {facts}): is this the patient the '
                        'annotations mean? (--no-prompt-check skips the '
                        'check)']
        return []
