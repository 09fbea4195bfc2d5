# Copyright (c) OpenMMLab. All rights reserved.
"""Patch classification with slide (bag) ids: ``<filename> <label>`` lines."""
from typing import Dict, List, Sequence, Tuple, Union

from mmengine import fileio
from mmpretrain.datasets import BaseDataset

from mmvlsm.registry.classification import DATASETS


def parse_patch_annotations(
        path: str,
        num_classes: int,
        slide_id_sep: str = '_',
        check_slide_labels: bool = False) -> List[Tuple[str, int, str]]:
    """Read and validate a patch annotation file.

    Each non-blank line is ``<filename> <label>``: the filename (no spaces)
    and an integer label in ``[0, num_classes)``, separated by whitespace.
    Blank lines (e.g. a trailing newline) are skipped. The slide id of a
    patch is ``filename.split(slide_id_sep)[0]``, the filename taken as
    written in the file. A filename may appear once only: a patch listed
    twice would count twice in patch accuracy and in its slide's vote.

    Args:
        path (str): The annotation file (UTF-8; any mmengine backend).
        num_classes (int): Number of classes.
        slide_id_sep (str): Separator ending the slide id. Defaults to
            ``'_'``.
        check_slide_labels (bool): Whether to raise if the patches of a
            slide have different labels. Defaults to False.

    Returns:
        list[tuple[str, int, str]]: ``(filename, label, slide_id)`` per line,
        in file order.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not UTF-8 or holds no annotation, a
            line is malformed (the message gives the file and line number),
            or a filename appears twice (both line numbers are given).
    """
    if not slide_id_sep:
        raise ValueError('slide_id_sep must be a non-empty string')
    if not fileio.exists(path):
        raise FileNotFoundError(f'Annotation file not found: {path}')
    raw = fileio.get(path)
    try:
        text = raw.decode('utf-8').removeprefix('\ufeff')
    except UnicodeDecodeError as err:
        raise ValueError(f'Annotation file {path} is not UTF-8: byte offset '
                         f'{err.start} ({err.reason})') from err
    records = []
    slide_labels: Dict[str, Tuple[int, int]] = {}
    first_lines: Dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f'{path}, line {lineno} ({line.strip()!r})'
        if len(fields) == 1:
            raise ValueError(f'{where}: missing label; expected '
                             '"<filename> <label>"')
        if len(fields) > 2:
            raise ValueError(
                f'{where}: expected "<filename> <label>", got {len(fields)} '
                'fields; filenames must not contain spaces')
        filename, label_text = fields
        try:
            label = int(label_text)
        except ValueError:
            raise ValueError(f'{where}: label {label_text!r} is not an '
                             'integer') from None
        if not 0 <= label < num_classes:
            raise ValueError(f'{where}: label {label} is outside the '
                             f'{num_classes} classes [0, {num_classes - 1}]')
        first = first_lines.setdefault(filename, lineno)
        if first != lineno:
            raise ValueError(
                f'{where}: patch {filename!r} is already listed on line '
                f'{first}; each patch may appear once (a duplicate would '
                'count twice in accuracy and in its slide\'s vote)')
        slide_id = filename.split(slide_id_sep)[0]
        if check_slide_labels:
            prev_label, prev_lineno = slide_labels.setdefault(
                slide_id, (label, lineno))
            if prev_label != label:
                raise ValueError(
                    f'{where}: slide {slide_id!r} has label {label} here but '
                    f'label {prev_label} on line {prev_lineno}; every patch '
                    'of a slide needs the same label')
        records.append((filename, label, slide_id))
    if not records:
        raise ValueError(f'Annotation file {path} is empty; expected lines '
                         '"<filename> <label>"')
    return records


@DATASETS.register_module()
class SlidePatchDataset(BaseDataset):
    """Patches of whole-slide images with one class label each.

    The annotation file has one line ``<filename> <label>`` per patch (the
    mmcls format of CITE's PatchGastric files, see
    ``tools/dataset_converters/patchgastric.py``); the filename is relative
    to ``data_prefix`` (itself relative to ``data_root``) and must not
    contain spaces. The slide (bag) id of a patch is
    ``filename.split(slide_id_sep)[0]``.

    Data infos hold ``img_path``, ``gt_label`` (int) and ``slide_id``
    (str), plus ``sample_idx``. To let a metric such as
    :class:`mmvlsm.evaluation.SlideAccuracy` see the slide id, keep it in
    the data sample's metainfo: ``dict(type='mmpretrain.PackInputs',
    meta_keys=('sample_idx', 'img_path', 'slide_id'))``.

    Args:
        ann_file (str): Annotation file, relative to ``data_root``.
        classes (str | Sequence[str], optional): Class names (or a file
            listing them); label ``i`` is ``classes[i]``. Required unless
            ``metainfo`` holds ``classes``.
        slide_id_sep (str): Separator ending the slide id in a filename.
            Defaults to ``'_'``.
        check_slide_labels (bool): Whether all patches of a slide must have
            the same label (a slide-level label, as slide accuracy needs;
            the error names both lines). Defaults to True.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``
            (``metainfo``, ``data_root``, ``data_prefix``, ``pipeline``,
            ``test_mode``, ``indices``, ...).

    Raises:
        ValueError: If no classes are given, or the annotation file is
            empty or malformed, or lists a patch twice (the message names
            the file and the lines).
    """

    def __init__(self,
                 ann_file: str,
                 classes: Union[str, Sequence[str], None] = None,
                 slide_id_sep: str = '_',
                 check_slide_labels: bool = True,
                 **kwargs) -> None:
        self.slide_id_sep = slide_id_sep
        self.check_slide_labels = check_slide_labels
        super().__init__(ann_file=ann_file, classes=classes, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Parse ``ann_file`` into data infos."""
        if not self.CLASSES:
            raise ValueError(
                f'{type(self).__name__} needs class names: pass classes=[...] '
                '(or metainfo=dict(classes=[...]))')
        records = parse_patch_annotations(self.ann_file, len(self.CLASSES),
                                          self.slide_id_sep,
                                          self.check_slide_labels)
        return [
            dict(
                img_path=fileio.join_path(self.img_prefix, filename)
                if self.img_prefix else filename,
                gt_label=label,
                slide_id=slide_id) for filename, label, slide_id in records
        ]

    def get_slide_id(self, idx: int) -> str:
        """The slide id of sample ``idx``."""
        return self.get_data_info(idx)['slide_id']

    @property
    def slide_ids(self) -> List[str]:
        """Slide ids in the order of their first patch, each once."""
        return list(
            dict.fromkeys(self.get_slide_id(i) for i in range(len(self))))

    def slide_to_indices(self) -> Dict[str, List[int]]:
        """Map each slide id to the indices of its patches."""
        result: Dict[str, List[int]] = {}
        for i in range(len(self)):
            result.setdefault(self.get_slide_id(i), []).append(i)
        return result

    @property
    def class_to_slides(self) -> Dict[int, List[str]]:
        """Map each label to its slides (in order of their first patch).

        Every label in ``[0, num_classes)`` is a key, possibly with an
        empty list. A slide with patches of several labels (only possible
        with ``check_slide_labels=False``) is listed under each.
        """
        result: Dict[int, Dict[str, None]] = {
            label: {}
            for label in range(len(self.CLASSES))
        }
        for i in range(len(self)):
            info = self.get_data_info(i)
            result[info['gt_label']][info['slide_id']] = None
        return {label: list(ids) for label, ids in result.items()}

    def extra_repr(self) -> List[str]:
        body = super().extra_repr()
        if self._fully_initialized:
            body.append(f'Number of slides: \t{len(self.slide_ids)}')
        return body
