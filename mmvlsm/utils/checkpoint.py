# Copyright (c) OpenMMLab. All rights reserved.
"""Let torch's ``weights_only`` unpickler read mmengine checkpoints.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``. mmengine
0.10.7 calls ``torch.load`` without that argument when it resumes, loads
``load_from`` or ``init_cfg=dict(type='Pretrained')``, so its own checkpoints
fail: they pickle the message hub (``HistoryBuffer`` objects holding numpy
arrays) and numpy scalars. Rather than switching ``weights_only`` off, which
would let any checkpoint run code, we allow exactly the plain-data types such
checkpoints hold. Anything else still fails to load.
"""
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

HISTORY_BUFFER_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})


def _numpy_globals() -> list:
    """Numpy's reconstruction helpers and dtype classes, under both names.

    numpy 2 pickles name ``numpy._core``; numpy 1 checkpoints name
    ``numpy.core``. Both resolve to the same objects here.
    """
    from numpy._core import multiarray
    items = []
    for name in ('_reconstruct', 'scalar'):
        obj = getattr(multiarray, name)
        items += [(obj, f'numpy._core.multiarray.{name}'),
                  (obj, f'numpy.core.multiarray.{name}')]
    items += [np.ndarray, np.dtype]
    # Concrete dtype classes (``numpy.dtypes.Float64DType`` ...).
    items += [
        getattr(np.dtypes, name) for name in dir(np.dtypes)
        if name.endswith('DType')
    ]
    return items


def _history_buffer_getattr(obj: object, name: str) -> object:
    """The only ``getattr`` a checkpoint may call.

    A pickled ``HistoryBuffer`` refers to its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. Allowing the builtin ``getattr``
    would let a checkpoint walk to arbitrary attributes, so this stand-in is
    registered under the builtin's name and allows those lookups alone.
    """
    # The built-in statistics are registered when the first buffer is
    # created, which may not have happened yet in this process.
    allowed = HISTORY_BUFFER_STATISTICS | set(
        HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}), which is not a '
        'HistoryBuffer statistics method; refusing to load it')


def allow_mmengine_checkpoint_globals() -> None:
    """Register the plain-data globals found in mmengine checkpoints."""
    torch.serialization.add_safe_globals([
        HistoryBuffer,
        *_numpy_globals(),
        # Pickle protocol 2 (torch.save's default) names it `__builtin__`.
        (_history_buffer_getattr, '__builtin__.getattr'),
        (_history_buffer_getattr, 'builtins.getattr'),
    ])
