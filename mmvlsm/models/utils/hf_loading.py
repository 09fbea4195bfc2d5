# Copyright (c) OpenMMLab. All rights reserved.
"""Loading Hugging Face models and tokenizers with actionable errors.

``from_pretrained`` accepts either a Hub name, looked up in the local cache
and downloaded when allowed, or a local directory written by
``save_pretrained``. When neither works, transformers reports a generic
connection or repo-id error. The helpers here re-raise it with what failed,
why, and where to put the files, so that a missing weight never turns into a
silent random initialisation further down.
"""
import os.path as osp
from contextlib import contextmanager
from typing import Iterator, Type, TypeVar

from huggingface_hub import constants, is_offline_mode

T = TypeVar('T')


def _missing_files_message(name_or_path: str, what: str) -> str:
    """Explain why ``name_or_path`` could not be loaded and how to fix it."""
    if osp.isdir(name_or_path):
        return (f'Could not load the {what} from the local directory '
                f'"{name_or_path}". It must hold the files written by '
                '`save_pretrained()` (e.g. config.json and model.safetensors '
                'for a model; tokenizer.json or vocab.json and merges.txt '
                'for a tokenizer).')
    if is_offline_mode():
        reason = 'downloading is disabled (HF_HUB_OFFLINE=1)'
    else:
        reason = 'the download failed (no network access?)'
    return (f'Could not load the {what} "{name_or_path}": it is not a local '
            'directory, and as a Hugging Face Hub name it is not in the '
            f'local cache ({constants.HF_HUB_CACHE}) and {reason}. Either '
            f'run `hf download {name_or_path}` on a machine with internet '
            'access and copy the cache there (or point HF_HOME at it), or '
            'save the files with `save_pretrained(DIR)` and pass DIR '
            'instead of the Hub name.')


@contextmanager
def hf_loading_errors(name_or_path: str, what: str) -> Iterator[None]:
    """Re-raise loading errors inside the block with a clear message.

    Wrap any call that fetches ``name_or_path`` from the Hugging Face Hub or
    from a local directory (``from_pretrained``, open_clip's ``hf-hub:``
    names, ...).

    Args:
        name_or_path (str): The Hub name or local directory being loaded.
        what (str): What is being loaded, used in the message, e.g.
            ``'CLIPSegForImageSegmentation weights'``.

    Raises:
        OSError: If the block raised ``OSError`` or ``ValueError`` (which is
            what transformers raises for missing files, unknown names and an
            offline cache miss). The original error is chained. A Hub name
            that cannot be found raises the subclass ``FileNotFoundError``.
    """
    try:
        yield
    except (OSError, ValueError) as err:
        error_type = OSError if osp.isdir(name_or_path) else FileNotFoundError
        raise error_type(f'{_missing_files_message(name_or_path, what)}\n'
                         f'Original error: {err}') from err


def hf_from_pretrained(cls: Type[T], name_or_path: str, **kwargs) -> T:
    """Call ``cls.from_pretrained(name_or_path, **kwargs)`` with clear errors.

    Args:
        cls (type): A class with ``from_pretrained``, e.g.
            ``transformers.CLIPSegForImageSegmentation`` or
            ``transformers.AutoTokenizer``.
        name_or_path (str): A Hub name such as
            ``'CIDAS/clipseg-rd64-refined'`` (uses the HF cache and respects
            ``HF_HUB_OFFLINE``) or a local ``save_pretrained`` directory.
        **kwargs: Passed to ``from_pretrained``.

    Returns:
        The loaded object.
    """
    with hf_loading_errors(name_or_path, cls.__name__):
        return cls.from_pretrained(name_or_path, **kwargs)
