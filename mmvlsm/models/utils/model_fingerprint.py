# Copyright (c) OpenMMLab. All rights reserved.
"""What identifies a pretrained model's weights, for caching its outputs.

A local file or directory is identified by its content, so that a model
moved or copied elsewhere keeps its identity and one retrained in place
gets a new one; a Hugging Face Hub name by the commit its cached ``main``
reference points to, which is what ``from_pretrained`` loads.
"""
import hashlib
import os
import os.path as osp
from typing import Optional

from huggingface_hub import constants
from huggingface_hub.file_download import repo_folder_name

# open_clip's prefixes of Hub names and local directories.
HUB_PREFIXES = ('hf-hub:', )
DIR_PREFIXES = ('local-dir:', )
_CHUNK = 1 << 24


def _update_with_file(digest: 'hashlib._Hash', path: str) -> None:
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(_CHUNK), b''):
            digest.update(chunk)


def content_hash(path: str) -> str:
    """SHA-256 of a file, or of a directory's files and their relative names
    (hidden files and folders, e.g. download metadata, left out).

    Args:
        path (str): A file or directory; symbolic links are followed.

    Returns:
        str: Hex digest.
    """
    digest = hashlib.sha256()
    if osp.isfile(path):
        _update_with_file(digest, path)
        return digest.hexdigest()
    for root, dirs, files in os.walk(path, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        for name in sorted(f for f in files if not f.startswith('.')):
            file = osp.join(root, name)
            relative = osp.relpath(file, path).replace(os.sep, '/')
            digest.update(relative.encode('utf-8') + b'\0')
            file_digest = hashlib.sha256()
            _update_with_file(file_digest, file)
            digest.update(file_digest.digest())
    return digest.hexdigest()


def hub_commit(repo_id: str) -> Optional[str]:
    """The commit of a Hub model's ``main`` in the local HF cache.

    Args:
        repo_id (str): ``ORG/NAME``.

    Returns:
        str | None: The commit hash, or None if the model is not cached
        (or ``repo_id`` is no Hub name).
    """
    try:
        folder = repo_folder_name(repo_id=repo_id, repo_type='model')
        with open(
                osp.join(constants.HF_HUB_CACHE, folder, 'refs', 'main'),
                encoding='utf-8') as f:
            return f.read().strip() or None
    except (OSError, ValueError):  # not cached, or not a Hub name at all
        return None


def model_fingerprint(name_or_path: str) -> Optional[str]:
    """Identify the weights a model reference loads.

    Args:
        name_or_path (str): A file (e.g. CLIP's ``ViT-B-16.pt``), a
            directory (``save_pretrained``, open_clip's ``local-dir:DIR``)
            or a Hub name (``ORG/NAME``, open_clip's ``hf-hub:ORG/NAME``).

    Returns:
        str | None: ``'sha256:<hex>'`` for a file or directory,
        ``'hub:ORG/NAME@<commit>'`` for a cached Hub model, None for a Hub
        model not in the cache (yet).
    """
    name_or_path = os.fspath(name_or_path)
    for prefix in DIR_PREFIXES:
        if name_or_path.startswith(prefix):
            name_or_path = name_or_path[len(prefix):]
    if osp.exists(name_or_path):
        return 'sha256:' + content_hash(name_or_path)
    for prefix in HUB_PREFIXES:
        if name_or_path.startswith(prefix):
            name_or_path = name_or_path[len(prefix):]
    commit = hub_commit(name_or_path)
    return None if commit is None else f'hub:{name_or_path}@{commit}'
