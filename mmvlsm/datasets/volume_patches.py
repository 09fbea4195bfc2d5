# Copyright (c) OpenMMLab. All rights reserved.
"""3D multi-class label volumes, segmented one class at a time.

The volume counterpart of :mod:`.multiclass_slices`: one record per
subject's volume instead of one per slice; 3D PUNet trains on random
patches of the volumes (:class:`RandomVolumeCrop`) and is evaluated on the
whole volumes. The files are those written by
``tools/dataset_converters/ct_multiorgan.py --format nifti`` and
``tools/misc/generate_toy_organs.py --volumes``.
"""
from typing import List

from mmvlsm.registry import DATASETS
from .multiclass_slices import (MultiClassSliceDataset,
                                load_multiclass_annotations)

VOLUME_FIELDS = ('img_name', 'mask_name', 'subject', 'labels')


def load_volume_annotations(path: str) -> dict:
    """Read and validate a volume annotation file.

    Args:
        path (str): A UTF-8 JSON object ``{"metainfo": {"classes": [...]},
            "data_list": [...]}``; ``classes`` are the names of the label
            values, background (0) first, and every record of
            ``data_list`` holds ``img_name`` and ``mask_name`` (str, volume
            files under the image and mask folders, e.g. ``.nii.gz``),
            ``subject`` (str) and ``labels`` (list of the class indices
            present in the label volume). Other keys are kept.

    Returns:
        dict: The file's content, unchanged.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not JSON or breaks the format above (the
            message names the file and, for a record, its index).
    """
    return load_multiclass_annotations(path, VOLUME_FIELDS)


@DATASETS.register_module()
class MultiClassVolumeDataset(MultiClassSliceDataset):
    """Volumes with multi-class label volumes, served one class at a time.

    The layout is ``data_root/{anns/<split>.json, images/, masks/}``; the
    annotation format is described in :func:`load_volume_annotations`.
    Everything else is :class:`MultiClassSliceDataset`'s, with volumes for
    slices: ``expand_classes=False`` (training) gives one info per volume
    with ``candidate_classes = list(active_classes)``,
    ``expand_classes=True`` (evaluation) one per volume and class of
    ``active_classes`` (volume-major) with ``active_class`` set and
    ``dataset_name = f'{dataset_name}-{class_name}'``.

    Every data info holds ``img_path``, ``seg_map_path``, ``img_name``,
    ``mask_name``, ``subject``, ``labels`` (classes present in the volume),
    ``num_classes`` (the number of classes, which
    :class:`LoadVolumeAnnotations` checks the label values against),
    ``dataset_name``, ``candidate_classes``, ``seg_fields`` (``[]``),
    ``reduce_zero_label`` (``False``) and ``sample_idx``, plus
    ``active_class`` when expanded.

    Args:
        data_root, ann_file, data_prefix, active_classes, expand_classes,
        dataset_name, metainfo, pipeline, test_mode, lazy_init,
        serialize_data, max_refetch, indices: As
        :class:`MultiClassSliceDataset`.
    """

    RECORD_KEYS = ('subject', )

    @staticmethod
    def load_annotations(path: str) -> dict:
        """The content of the annotation file ``path``, validated."""
        return load_volume_annotations(path)

    def load_data_list(self) -> List[dict]:
        """Read the annotation file and check every volume exists.

        Returns:
            list[dict]: The data infos described in the class docstring.

        Raises:
            ValueError: If the file is malformed, holds no records or
                ``active_classes`` names a class it does not have.
            FileNotFoundError: If an image or label volume does not exist.
        """
        data_list = super().load_data_list()
        num_classes = len(self._metainfo['classes'])
        for info in data_list:
            info['num_classes'] = num_classes
        return data_list
