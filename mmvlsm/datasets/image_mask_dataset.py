# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
from typing import Callable, List, Mapping, Optional, Sequence, Union

from mmengine.dataset import BaseDataset


class ImageMaskDataset(BaseDataset):
    """Base of mmvlsm's segmentation datasets: a split of
    ``data_root/{anns, images, masks}`` with a name.

    The name (``dataset_name``, default: the folder name of ``data_root``)
    goes into the metainfo, and subclasses put it into every data info, so
    that metrics can report pooled datasets (or classes) one by one.

    Args:
        data_root (str): The dataset folder.
        ann_file (str): Annotation file, relative to ``data_root``.
        data_prefix (dict): Folders of ``img_path`` and ``seg_map_path``.
        dataset_name (str, optional): The name. Defaults to None.
        metainfo (Mapping, optional): Extra meta information.
        pipeline, test_mode, lazy_init, serialize_data, max_refetch,
        indices: As mmengine's ``BaseDataset``.
    """

    def __init__(self,
                 data_root: str,
                 ann_file: str,
                 data_prefix: dict,
                 dataset_name: Optional[str] = None,
                 metainfo: Optional[Mapping] = None,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 serialize_data: bool = True,
                 max_refetch: int = 1000,
                 indices: Optional[Union[int, Sequence[int]]] = None) -> None:
        missing = {'img_path', 'seg_map_path'} - set(data_prefix)
        if missing:
            raise ValueError(f'data_prefix lacks {sorted(missing)}')
        self.dataset_name = dataset_name or osp.basename(
            osp.abspath(data_root))
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            indices=indices,
            serialize_data=serialize_data,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=True,
            max_refetch=max_refetch)
        # Set after BaseDataset's metainfo parsing, which would read a string
        # value as a file path if such a file existed.
        self._metainfo['dataset_name'] = self.dataset_name
        if not lazy_init:
            self.full_init()
