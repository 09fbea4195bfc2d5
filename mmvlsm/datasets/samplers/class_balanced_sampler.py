# Copyright (c) OpenMMLab. All rights reserved.
import itertools
import logging
from typing import Dict, Iterator, List, Optional, Sized

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.logging import print_log
from torch.utils.data import Sampler

from mmvlsm.registry.classification import DATA_SAMPLERS


def dataset_labels(dataset: Sized) -> List[int]:
    """The single class label of every sample of ``dataset``.

    Uses ``get_gt_labels()`` (mmpretrain datasets) if there is one, else
    ``get_cat_ids(idx)`` (mmengine's dataset wrappers), which must give one
    label per sample.
    """
    if hasattr(dataset, 'get_gt_labels'):
        return [int(label) for label in dataset.get_gt_labels()]
    if not hasattr(dataset, 'get_cat_ids'):
        raise TypeError(
            f'{type(dataset).__name__} has neither get_gt_labels() nor '
            'get_cat_ids(idx); a class-balanced sampler needs the labels')
    labels = []
    for idx in range(len(dataset)):
        cat_ids = dataset.get_cat_ids(idx)
        if len(cat_ids) != 1:
            raise ValueError(f'Sample {idx} has labels {list(cat_ids)}; a '
                             'class-balanced sampler needs exactly one')
        labels.append(int(cat_ids[0]))
    return labels


@DATA_SAMPLERS.register_module()
class ClassBalancedInfiniteSampler(Sampler):
    """An infinite sampler drawing the classes in turn (iteration-based).

    The global index stream cycles through the classes round-robin
    (ascending label; labels without samples are skipped). Each class
    draws from its own shuffled list of indices, reshuffled when it is
    exhausted, so every ``num_classes`` consecutive indices of the stream
    (starting at a multiple of ``num_classes``) hold one sample of each
    class. This is CITE's ``patch_balance=True`` as a sampler instead of an
    index-ignoring ``__getitem__``; unlike it, the stream is deterministic
    given ``seed`` and independent of the dataloader workers.

    As mmengine's ``InfiniteSampler``, all ranks build the same stream from
    the same seed and rank ``r`` of ``w`` takes its elements
    ``r, r + w, r + 2w, ...``, so the ranks get disjoint shares of it.

    Args:
        dataset (Sized): A dataset with ``get_gt_labels()`` or
            ``get_cat_ids(idx)`` (one label per sample).
        shuffle (bool): Whether each class's list is shuffled; if False the
            indices of a class are taken in ascending order. Defaults to
            True.
        seed (int, optional): Random seed, the same on every rank. If None
            a random seed is drawn and synchronised across ranks. Defaults
            to None.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None) -> None:
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.size = len(dataset)
        if self.size == 0:
            raise ValueError('ClassBalancedInfiniteSampler got an empty '
                             'dataset')
        by_class: Dict[int, List[int]] = {}
        for idx, label in enumerate(dataset_labels(dataset)):
            by_class.setdefault(label, []).append(idx)
        self.class_indices = [by_class[c] for c in sorted(by_class)]
        num_classes = len(getattr(dataset, 'metainfo', {}).get('classes', ()))
        missing = sorted(set(range(num_classes)) - set(by_class))
        if missing:
            print_log(
                f'ClassBalancedInfiniteSampler: classes {missing} have no '
                'samples and are skipped',
                logger='current',
                level=logging.WARNING)
        self.indices = self._indices_of_rank()

    def _infinite_indices(self) -> Iterator[int]:
        """Infinitely yield the global, class-balanced index stream."""
        g = torch.Generator()
        g.manual_seed(self.seed)
        pools: List[List[int]] = [[] for _ in self.class_indices]
        while True:
            for c, indices in enumerate(self.class_indices):
                if not pools[c]:
                    if self.shuffle:
                        order = torch.randperm(
                            len(indices), generator=g).tolist()
                        # Popped from the end: reverse to draw in order.
                        pools[c] = [indices[i] for i in reversed(order)]
                    else:
                        pools[c] = indices[::-1]
                yield pools[c].pop()

    def _indices_of_rank(self) -> Iterator[int]:
        """Slice the infinite indices by rank."""
        yield from itertools.islice(self._infinite_indices(), self.rank, None,
                                    self.world_size)

    def __iter__(self) -> Iterator[int]:
        """Iterate the indices."""
        yield from self.indices

    def __len__(self) -> int:
        """Length of the dataset."""
        return self.size

    def set_epoch(self, epoch: int) -> None:
        """Not supported in iteration-based runner."""
