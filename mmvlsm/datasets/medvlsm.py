# Copyright (c) OpenMMLab. All rights reserved.
"""The medvlsm annotation format: one JSON list of records per split."""
import json
import os.path as osp
import random
from typing import Callable, List, Optional, Sequence, Tuple, Union

from mmvlsm.registry import DATASETS
from .image_mask_dataset import ImageMaskDataset

REQUIRED_FIELDS = ('img_name', 'mask_name', 'prompts')
# p0 is the empty prompt in every medvlsm file; 'random' never picks it.
EMPTY_PROMPT_KEY = 'p0'
# `prompt_key` of samples whose text comes from `override_prompt`.
OVERRIDE_PROMPT_KEY = 'override'


def _check_record(record: object, idx: int, path: str) -> None:
    """Raise a ValueError naming ``path`` and ``idx`` if a record is bad."""
    where = f'Record {idx} of {path}'
    if not isinstance(record, dict):
        raise ValueError(f'{where} is a {type(record).__name__}, expected a '
                         'dict with img_name, mask_name and prompts')
    missing = [field for field in REQUIRED_FIELDS if field not in record]
    if missing:
        raise ValueError(f'{where} lacks {missing}; every record needs '
                         f'{list(REQUIRED_FIELDS)}')
    for field in ('img_name', 'mask_name'):
        if not isinstance(record[field], str) or not record[field]:
            raise ValueError(f'{where}: {field} must be a non-empty string, '
                             f'got {record[field]!r}')
    prompts = record['prompts']
    if not isinstance(prompts, dict):
        raise ValueError(f'{where}: prompts must be a dict mapping p0..pN '
                         f'to prompts, got {type(prompts).__name__}')
    for key, value in prompts.items():
        if isinstance(value, list) and value:
            valid = all(isinstance(v, str) for v in value)
        else:
            valid = isinstance(value, str)
        if not valid:
            raise ValueError(
                f'{where}: prompt {key!r} must be a string or a non-empty '
                f'list of strings, got {value!r}')


def load_medvlsm_annotations(path: str) -> List[dict]:
    """Read and validate a medvlsm annotation file.

    Args:
        path (str): A UTF-8 JSON file (a byte-order mark is allowed)
            holding a list of records, each with at
            least ``img_name`` (str), ``mask_name`` (str) and ``prompts``
            (dict mapping ``p0``..``pN`` to a string or a list of strings).

    Returns:
        list[dict]: The records, unchanged. An empty list is returned as is.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not UTF-8 (the message gives the byte
            offset), empty or not JSON, its top level is not a list, or a
            record is malformed (the message names the record).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Annotation file not found: {path}')
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        # The byte-order mark some editors write is dropped below.
        content = raw.decode('utf-8').removeprefix('\ufeff')
    except UnicodeDecodeError as err:
        raise ValueError(
            f'Annotation file {path} is not UTF-8: byte offset {err.start} '
            f'holds {raw[err.start:err.start + 4]!r} ({err.reason}). '
            'Annotation files must be UTF-8 encoded JSON; re-save it as '
            'UTF-8 (e.g. `iconv -f latin1 -t utf-8`)') from err
    if not content.strip():
        raise ValueError(f'Annotation file {path} is empty; expected a JSON '
                         'list of records')
    try:
        records = json.loads(content)
    except json.JSONDecodeError as err:
        raise ValueError(
            f'Annotation file {path} is not valid JSON: {err}') from err
    if not isinstance(records, list):
        raise ValueError(f'Annotation file {path} holds a '
                         f'{type(records).__name__} at the top level; '
                         'expected a list of records')
    for idx, record in enumerate(records):
        _check_record(record, idx, path)
    return records


@DATASETS.register_module()
class MedVLSMDataset(ImageMaskDataset):
    """A split of a medvlsm-format dataset with one text prompt per sample.

    The layout is ``data_root/{anns/<split>.json, images/, masks/}``. Each
    record of the annotation file gives an image, its binary mask and a
    dict of prompts ``p0``..``pN`` (``p0`` is empty). Every time a sample is
    loaded one prompt is chosen and stored in the data info as ``text``,
    its key as ``prompt_key``:

    - ``override_prompt`` set: that string, key ``'override'``;
    - ``prompt_type='pK'``: the value of ``pK``;
    - ``prompt_type='random'``: any key but ``p0`` (the VLSM-Adapter
      protocol); ``prompt_type=['p1', 'p3']``: one of these keys.

    A list-valued prompt holds phrasings of the same content. In training
    one key and one phrasing are drawn at each load with python's
    ``random`` (mmengine seeds it per dataloader worker). In test mode the
    phrasing is always the first element and the key is drawn from
    ``random.Random(f'{prompt_seed}:{idx}')``, so evaluation is
    reproducible.

    Data infos hold ``img_path``, ``seg_map_path``, ``img_name``,
    ``mask_name``, ``prompts``, ``dataset_name``, ``seg_fields`` (``[]``),
    ``reduce_zero_label`` (``False``) and ``sample_idx``; those returned by
    :meth:`get_data_info` also hold ``text`` and ``prompt_key``.

    Args:
        data_root (str): Dataset folder, e.g. ``'data/kvasir_polyp'``.
        ann_file (str): Annotation file, relative to ``data_root``.
            Defaults to ``'anns/train.json'``.
        data_prefix (dict): Folders of the images (``img_path``) and masks
            (``seg_map_path``), relative to ``data_root``. Defaults to
            ``dict(img_path='images', seg_map_path='masks')``.
        prompt_type (str | Sequence[str]): A prompt key such as ``'p1'``,
            ``'random'`` or a list of keys. Defaults to ``'p1'``.
        override_prompt (str, optional): Text used for every record instead
            of its prompts. Defaults to None.
        dataset_name (str, optional): Name stored in the metainfo and in
            every data info, e.g. for per-dataset metrics of a
            ``ConcatDataset`` (build it with
            ``ignore_keys=['dataset_name']``). Defaults to the base name of
            ``data_root``.
        prompt_seed (int): Seed of the per-sample prompt draws in test mode.
            Defaults to 0.
        pipeline (list[dict | Callable]): Transforms. Defaults to ``[]``.
        test_mode (bool): Whether prompts are chosen reproducibly (and
            broken samples raise instead of being replaced). Defaults to
            False.
        lazy_init (bool): Whether to defer reading the annotation file
            until first use. Defaults to False.
        serialize_data (bool): Whether to keep the data infos as one byte
            buffer shared by dataloader workers. Defaults to True.
        max_refetch (int): How often training replaces a sample whose
            pipeline returned None. Defaults to 1000.
        indices (int | Sequence[int], optional): Keep only these records
            (an int keeps the first ones). Defaults to None.
    """

    METAINFO = dict(
        classes=('background', 'foreground'),
        palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 data_root: str,
                 ann_file: str = 'anns/train.json',
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='masks'),
                 prompt_type: Union[str, Sequence[str]] = 'p1',
                 override_prompt: Optional[str] = None,
                 dataset_name: Optional[str] = None,
                 prompt_seed: int = 0,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 serialize_data: bool = True,
                 max_refetch: int = 1000,
                 indices: Optional[Union[int, Sequence[int]]] = None) -> None:
        if isinstance(prompt_type, str):
            if not prompt_type:
                raise ValueError('prompt_type must not be empty')
        elif (not isinstance(prompt_type, Sequence) or not prompt_type
              or not all(isinstance(k, str) for k in prompt_type)
              or 'random' in prompt_type):
            raise ValueError(
                "prompt_type must be a key such as 'p1', 'random' or a "
                f'non-empty list of keys, got {prompt_type!r}')
        else:
            prompt_type = list(prompt_type)
        if override_prompt is not None and not isinstance(
                override_prompt, str):
            raise ValueError('override_prompt must be a string or None, got '
                             f'{type(override_prompt).__name__}')
        self.prompt_type = prompt_type
        self.override_prompt = override_prompt
        self.prompt_seed = prompt_seed
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=data_prefix,
            dataset_name=dataset_name,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            serialize_data=serialize_data,
            max_refetch=max_refetch,
            indices=indices)

    def _candidate_keys(self, prompts: dict) -> List[str]:
        """Keys ``prompt_type`` may choose from in a ``prompts`` dict."""
        if self.prompt_type == 'random':
            return [key for key in prompts if key != EMPTY_PROMPT_KEY]
        if isinstance(self.prompt_type, str):
            return [self.prompt_type]
        return self.prompt_type

    def _check_prompt_keys(self, prompts: dict, idx: int) -> None:
        """Fail early if record ``idx`` lacks a key ``prompt_type`` uses."""
        keys = self._candidate_keys(prompts)
        if not keys:
            raise ValueError(
                f'Record {idx} of {self.ann_file} has no prompt other than '
                f"{EMPTY_PROMPT_KEY!r}, which prompt_type='random' needs")
        unknown = [key for key in keys if key not in prompts]
        if unknown:
            raise ValueError(
                f'Record {idx} of {self.ann_file} has no prompt key '
                f'{unknown} (prompt_type={self.prompt_type!r}); its keys are '
                f'{list(prompts)}')

    def load_data_list(self) -> List[dict]:
        """Read the annotation file and check every image and mask exists.

        Returns:
            list[dict]: One data info per record.

        Raises:
            ValueError: If the file has no records or a record lacks a
                prompt key that ``prompt_type`` needs.
            FileNotFoundError: If an image or mask does not exist.
        """
        records = load_medvlsm_annotations(self.ann_file)
        if not records:
            raise ValueError(
                f'{self.ann_file} holds no records, so dataset '
                f'{self.dataset_name!r} is empty (medvlsm ships empty val '
                'splits for ColonDB, ETIS and CVC-300); use another split')
        img_dir = self.data_prefix['img_path']
        mask_dir = self.data_prefix['seg_map_path']
        data_list = []
        for idx, record in enumerate(records):
            if self.override_prompt is None:
                self._check_prompt_keys(record['prompts'], idx)
            data_info = dict(
                img_path=osp.join(img_dir, record['img_name']),
                seg_map_path=osp.join(mask_dir, record['mask_name']),
                img_name=record['img_name'],
                mask_name=record['mask_name'],
                prompts=record['prompts'],
                dataset_name=self.dataset_name,
                seg_fields=[],
                reduce_zero_label=False)
            for kind, key in (('Image', 'img_path'), ('Mask', 'seg_map_path')):
                path = data_info[key]
                if not osp.exists(path):
                    hint = '' if osp.isdir(osp.dirname(path)) else (
                        '; its folder is missing too: mmvlsm ships only the '
                        'annotation files (see data/README.md)')
                    raise FileNotFoundError(
                        f'{kind} of record {idx} of {self.ann_file} not '
                        f'found: {path}{hint}')
            data_list.append(data_info)
        return data_list

    def choose_prompt(self, prompts: dict, idx: int) -> Tuple[str, str]:
        """Choose the text of sample ``idx``.

        Args:
            prompts (dict): The record's ``p0``..``pN`` prompts.
            idx (int): Index of the sample in this dataset; it seeds the
                choice in test mode.

        Returns:
            tuple[str, str]: The prompt key and the prompt text.
        """
        if self.override_prompt is not None:
            return OVERRIDE_PROMPT_KEY, self.override_prompt
        if self.test_mode:
            choice = random.Random(f'{self.prompt_seed}:{idx}').choice
        else:
            choice = random.choice
        key = choice(self._candidate_keys(prompts))
        text = prompts[key]
        if isinstance(text, list):
            text = text[0] if self.test_mode else random.choice(text)
        return key, text

    def get_data_info(self, idx: int) -> dict:
        """Get the data info of sample ``idx`` with a freshly chosen prompt.

        Args:
            idx (int): Index of the sample.

        Returns:
            dict: The data info plus ``text`` (str) and ``prompt_key``
            (str).
        """
        data_info = super().get_data_info(idx)
        data_info['prompt_key'], data_info['text'] = self.choose_prompt(
            data_info['prompts'], data_info['sample_idx'])
        return data_info
