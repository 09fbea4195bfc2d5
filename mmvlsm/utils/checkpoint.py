# Copyright (c) OpenMMLab. All rights reserved.
"""Read mmengine checkpoints safely, and say why one cannot be read.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``. mmengine
0.10.7 calls ``torch.load`` without that argument when it resumes, loads
``load_from`` or ``init_cfg=dict(type='Pretrained')``, so its own checkpoints
fail: they pickle the message hub (``HistoryBuffer`` objects holding numpy
arrays) and numpy scalars. Rather than switching ``weights_only`` off, which
would let any checkpoint run code, we allow exactly the plain-data types such
checkpoints hold. Anything else still fails to load.

:func:`load_from_local` replaces mmengine's loader of local files (used
by ``load_from``, ``--resume``, ``tools/test.py`` and
:func:`mmvlsm.apis.init_model`), so that a truncated or corrupt file and a
refused type are reported with the file's path.
"""
import io
import os.path as osp
import pickle
import re
from typing import List, Optional, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

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


def _refused_types(filename: str, err: Exception) -> List[str]:
    """What the ``weights_only`` unpickler refused in ``filename``, e.g.
    ``['argparse.Namespace']``; empty if it failed for another reason."""
    try:
        refused = torch.serialization.get_unsafe_globals_in_checkpoint(
            filename)
    except Exception:  # legacy (non-zip) format: read the message instead
        refused = re.findall(r'GLOBAL (\S+)', str(err))
    # `_history_buffer_getattr` refuses other lookups itself.
    return refused + re.findall(r'asks for (getattr\(.*?\))', str(err))


def load_from_local(
        filename: str,
        map_location: Optional[Union[str, torch.device]] = None) -> dict:
    """Load a local checkpoint with ``torch.load``'s ``weights_only``.

    Named like mmengine's loader it replaces, whose log line reads the
    backend from the name ("Loads checkpoint by local backend").

    Args:
        filename (str): The checkpoint file; ``~`` is expanded.
        map_location (str | torch.device, optional): As for ``torch.load``.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: If the file does not exist.
        pickle.UnpicklingError: If the safe unpickler refuses a type of the
            file; the message names the file, the types and how to allow
            them.
        ValueError: If the file cannot be read at all (truncated, corrupt,
            not a PyTorch checkpoint); the message names the file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    try:
        return torch.load(filename, map_location=map_location)
    except pickle.UnpicklingError as err:
        refused = ', '.join(_refused_types(filename, err))
        if not refused:  # bytes that are not a pickle at all
            raise ValueError(
                f'could not read checkpoint {filename}: the file is '
                'truncated, corrupt or not a PyTorch checkpoint '
                f'({type(err).__name__}: {err})') from err
        raise pickle.UnpicklingError(
            f'checkpoint {filename} was refused by torch\'s safe '
            f'(weights_only) loader: it holds {refused}, which that loader '
            'does not allow because unpickling arbitrary objects can run '
            'code. If you trust the file and these are plain data types, '
            'allow them before loading it: import them and call '
            f'torch.serialization.add_safe_globals([{refused}]). torch '
            f'said: {err}') from err
    except (RuntimeError, EOFError, KeyError, ValueError, OSError) as err:
        # What torch raises for a truncated zip, an empty file or bytes
        # that are not a pickle.
        raise ValueError(
            f'could not read checkpoint {filename}: the file is truncated, '
            'corrupt or not a PyTorch checkpoint '
            f'({type(err).__name__}: {err})') from err


def install_checkpoint_loader() -> None:
    """Make :func:`load_from_local` mmengine's loader of local
    files."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)


def save_converted_checkpoint(path: str, state_dict: dict, source: str,
                              converter: str) -> None:
    """Write a converted state dict as an mmengine checkpoint, atomically.

    The file holds ``state_dict`` and ``meta`` (the source file and the
    converter), for ``load_from`` or ``tools/test.py``; an interruption
    leaves no half-written file (:func:`mmvlsm.utils.paths.write_atomic`).

    Args:
        path (str): The checkpoint to write.
        state_dict (dict): The converted weights.
        source (str): The checkpoint they were converted from.
        converter (str): The tool that converted them.
    """
    from .paths import write_atomic
    buffer = io.BytesIO()
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(source=osp.abspath(source), converter=converter)),
        buffer)
    write_atomic(path, buffer.getvalue())
