# Copyright (c) OpenMMLab. All rights reserved.
"""2D slices of multi-class label maps, segmented one class at a time.

PUNet segments one class per forward pass, selected by its class prompt:
the sample says which class is active and the target is that class against
everything else. This module reads the slice annotation files written by
``tools/dataset_converters/ct_multiorgan.py`` and
``tools/misc/generate_toy_organs.py``.
"""
import json
import os.path as osp
from typing import Callable, List, Mapping, Optional, Sequence, Union

from mmvlsm.registry import DATASETS
from .image_mask_dataset import ImageMaskDataset

REQUIRED_FIELDS = ('img_name', 'mask_name', 'subject', 'slice', 'labels')


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_classes(classes: object, path: str) -> List[str]:
    if (not isinstance(classes, list) or len(classes) < 2
            or not all(isinstance(c, str) and c for c in classes)
            or len(set(classes)) != len(classes)):
        raise ValueError(
            f'{path}: metainfo.classes must be a list of at least two '
            'distinct non-empty names, background first; got '
            f'{classes!r}')
    return classes


def _check_record(record: object, idx: int, path: str, num_classes: int,
                  required: Sequence[str]) -> None:
    """Raise a ValueError naming ``path`` and ``idx`` if a record is bad."""
    where = f'Record {idx} of {path}'
    if not isinstance(record, dict):
        raise ValueError(f'{where} is a {type(record).__name__}, expected a '
                         f'dict with {list(required)}')
    missing = [field for field in required if field not in record]
    if missing:
        raise ValueError(f'{where} lacks {missing}; every record needs '
                         f'{list(required)}')
    for field in ('img_name', 'mask_name', 'subject'):
        if not isinstance(record[field], str) or not record[field]:
            raise ValueError(f'{where}: {field} must be a non-empty string, '
                             f'got {record[field]!r}')
    if 'slice' in required and (not _is_int(record['slice'])
                                or record['slice'] < 0):
        raise ValueError(f'{where}: slice must be an int >= 0, got '
                         f"{record['slice']!r}")
    labels = record['labels']
    if not isinstance(labels, list) or not all(
            _is_int(v) and 0 <= v < num_classes for v in labels):
        raise ValueError(f'{where}: labels must be a list of class indices in '
                         f'[0, {num_classes - 1}], got {labels!r}')


def load_multiclass_annotations(path: str, required: Sequence[str]) -> dict:
    """Read a multi-class annotation file whose records hold ``required``.

    See :func:`load_slice_annotations` (and
    :func:`mmvlsm.datasets.load_volume_annotations`) for the format, errors
    and return value.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Annotation file not found: {path}')
    try:
        with open(path, encoding='utf-8-sig') as f:
            content = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f'Annotation file {path} is not UTF-8 JSON: {err}') from err
    if (not isinstance(content, dict)
            or not isinstance(content.get('metainfo'), dict)
            or not isinstance(content.get('data_list'), list)):
        raise ValueError(
            f'Annotation file {path} must hold a JSON object with '
            '"metainfo" (an object with "classes") and "data_list" (a list '
            'of records)')
    classes = _check_classes(content['metainfo'].get('classes'), path)
    for idx, record in enumerate(content['data_list']):
        _check_record(record, idx, path, len(classes), required)
    return content


def load_slice_annotations(path: str) -> dict:
    """Read and validate a slice annotation file.

    Args:
        path (str): A UTF-8 JSON object ``{"metainfo": {"classes": [...]},
            "data_list": [...]}``; ``classes`` are the names of the label
            map values, background (0) first, and every record of
            ``data_list`` holds ``img_name`` and ``mask_name`` (str, file
            names under the image and mask folders), ``subject`` (str),
            ``slice`` (int, index in the subject's volume) and ``labels``
            (list of the class indices present in the mask). Other keys are
            kept.

    Returns:
        dict: The file's content, unchanged.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not JSON or breaks the format above (the
            message names the file and, for a record, its index).
    """
    return load_multiclass_annotations(path, REQUIRED_FIELDS)


@DATASETS.register_module()
class MultiClassSliceDataset(ImageMaskDataset):
    """2D slices with multi-class label maps, served one class at a time.

    The layout is ``data_root/{anns/<split>.json, images/, masks/}``; the
    annotation format is described in :func:`load_slice_annotations`. Masks
    are uint8 PNGs of class indices (0 = background) and the class names
    come from the annotation file's ``metainfo``.

    Every data info holds ``img_path``, ``seg_map_path``, ``img_name``,
    ``mask_name``, ``subject``, ``slice``, ``labels`` (classes present in
    the slice), ``dataset_name``, ``candidate_classes``, ``seg_fields``
    (``[]``), ``reduce_zero_label`` (``False``) and ``sample_idx``:

    - ``expand_classes=False`` (training): one info per slice, with
      ``candidate_classes = list(active_classes)``; the pipeline draws the
      class of each load (:class:`RandomActiveClass`).
    - ``expand_classes=True`` (evaluation): one info per slice and class of
      ``active_classes`` (slice-major), with ``active_class`` set,
      ``candidate_classes = [active_class]`` and
      ``dataset_name = f'{dataset_name}-{class_name}'``, so that
      :class:`DiceIoUMetric`, which groups samples by ``dataset_name``,
      reports every class on its own.

    :class:`BinarizeActiveClass` then turns the label map into the binary
    target of the active class (the other classes merge into background).

    Args:
        data_root (str): Dataset folder, e.g. ``'data/tcia_btcv'``.
        ann_file (str): Annotation file, relative to ``data_root``.
            Defaults to ``'anns/train.json'``.
        data_prefix (dict): Folders of the images (``img_path``) and masks
            (``seg_map_path``), relative to ``data_root``. Defaults to
            ``dict(img_path='images', seg_map_path='masks')``.
        active_classes (Sequence[int], optional): The foreground class
            indices this dataset serves, e.g. PUNet's phase-1 base classes
            or its phase-2 new class. Defaults to None (every class but
            background).
        expand_classes (bool): One info per (slice, class) instead of one
            per slice. Defaults to False.
        dataset_name (str, optional): Name stored in the metainfo and the
            data infos (before the class suffix). Defaults to the base name
            of ``data_root``.
        metainfo (dict, optional): Extra meta information; a ``classes``
            entry must equal the annotation file's. Defaults to None.
        pipeline (list[dict | Callable]): Transforms. Defaults to ``[]``.
        test_mode (bool): Whether broken samples raise instead of being
            replaced. Defaults to False.
        lazy_init (bool): Whether to defer reading the annotation file
            until first use. Defaults to False.
        serialize_data (bool): Whether to keep the data infos as one byte
            buffer shared by dataloader workers. Defaults to True.
        max_refetch (int): How often training replaces a sample whose
            pipeline returned None. Defaults to 1000.
        indices (int | Sequence[int], optional): Keep only these data infos
            (after the expansion; an int keeps the first ones). Defaults to
            None.
    """

    # Keys of a record copied into its data infos besides the file names
    # and labels.
    RECORD_KEYS = ('subject', 'slice')

    @staticmethod
    def load_annotations(path: str) -> dict:
        """The content of the annotation file ``path``, validated."""
        return load_slice_annotations(path)

    def __init__(self,
                 data_root: str,
                 ann_file: str = 'anns/train.json',
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='masks'),
                 active_classes: Optional[Sequence[int]] = None,
                 expand_classes: bool = False,
                 dataset_name: Optional[str] = None,
                 metainfo: Optional[Mapping] = None,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 serialize_data: bool = True,
                 max_refetch: int = 1000,
                 indices: Optional[Union[int, Sequence[int]]] = None) -> None:
        if active_classes is not None:
            if (isinstance(active_classes, (str, bytes))
                    or not isinstance(active_classes, Sequence)
                    or not active_classes
                    or not all(_is_int(c) for c in active_classes)
                    or len(set(active_classes)) != len(active_classes)):
                raise ValueError(
                    'active_classes must be a non-empty list of distinct '
                    f'class indices, got {active_classes!r}')
            active_classes = list(active_classes)
        self.active_classes = active_classes
        self.expand_classes = expand_classes
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=data_prefix,
            dataset_name=dataset_name,
            metainfo=metainfo,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            serialize_data=serialize_data,
            max_refetch=max_refetch,
            indices=indices)

    def _resolve_classes(self, classes: List[str]) -> List[int]:
        """Check ``active_classes`` (default: all foreground classes)."""
        given = self._metainfo.get('classes')
        if given is not None and list(given) != classes:
            raise ValueError(
                f'metainfo classes {list(given)} differ from those of '
                f'{self.ann_file}: {classes}')
        self._metainfo['classes'] = tuple(classes)
        if self.active_classes is None:
            return list(range(1, len(classes)))
        wrong = [c for c in self.active_classes if not 0 < c < len(classes)]
        if wrong:
            listing = ', '.join(f'{i}: {name}'
                                for i, name in enumerate(classes))
            raise ValueError(
                f'active_classes {self.active_classes} hold {wrong}, which '
                f'are not foreground classes of {self.ann_file} (0 is the '
                f'background); its classes are {{{listing}}}')
        return self.active_classes

    def load_data_list(self) -> List[dict]:
        """Read the annotation file and check every image and mask exists.

        Returns:
            list[dict]: The data infos described in the class docstring.

        Raises:
            ValueError: If the file is malformed, holds no records or
                ``active_classes`` names a class it does not have.
            FileNotFoundError: If an image or mask does not exist.
        """
        content = self.load_annotations(self.ann_file)
        classes = content['metainfo']['classes']
        self.active_classes = self._resolve_classes(classes)
        if not content['data_list']:
            raise ValueError(f'{self.ann_file} holds no records, so dataset '
                             f'{self.dataset_name!r} is empty')
        img_dir = self.data_prefix['img_path']
        mask_dir = self.data_prefix['seg_map_path']
        data_list = []
        for idx, record in enumerate(content['data_list']):
            info = dict(
                img_path=osp.join(img_dir, record['img_name']),
                seg_map_path=osp.join(mask_dir, record['mask_name']),
                img_name=record['img_name'],
                mask_name=record['mask_name'],
                labels=list(record['labels']),
                seg_fields=[],
                reduce_zero_label=False,
                **{key: record[key]
                   for key in self.RECORD_KEYS})
            for kind, key in (('Image', 'img_path'), ('Mask', 'seg_map_path')):
                if not osp.exists(info[key]):
                    raise FileNotFoundError(
                        f'{kind} of record {idx} of {self.ann_file} not '
                        f'found: {info[key]}')
            if not self.expand_classes:
                data_list.append(
                    dict(
                        info,
                        dataset_name=self.dataset_name,
                        candidate_classes=list(self.active_classes)))
                continue
            for cls in self.active_classes:
                data_list.append(
                    dict(
                        info,
                        dataset_name=f'{self.dataset_name}-{classes[cls]}',
                        candidate_classes=[cls],
                        active_class=cls))
        return data_list
