# Copyright (c) OpenMMLab. All rights reserved.
"""Hub repositories written straight into a Hugging Face cache, so that a
Hub name resolves offline (``HF_HUB_OFFLINE=1``) as after a download."""
import hashlib
import os
import os.path as osp
import shutil
from typing import Iterable, Optional


def add_to_hub_cache(cache_dir: str,
                     repo_id: str,
                     folder: str,
                     filenames: Optional[Iterable[str]] = None) -> str:
    """Lay ``folder``'s files out as the HF cache keeps ``repo_id``'s
    ``main`` revision: ``models--org--name/snapshots/<commit>/...`` and
    ``refs/main`` naming that commit.

    The files are copied into the snapshot (the layout the cache uses where
    it cannot make symbolic links to ``blobs/``); the commit hash is derived
    from their names and contents.

    Args:
        cache_dir (str): The hub cache, ``HF_HUB_CACHE``
            (``$HF_HOME/hub``).
        repo_id (str): E.g. ``'facebook/dinov2-small'``.
        folder (str): A directory, e.g. written by ``save_pretrained``.
        filenames (Iterable[str], optional): The files of ``folder`` (paths
            relative to it) to add. Defaults to all of them.

    Returns:
        str: The snapshot directory.
    """
    if filenames is None:
        filenames = [
            osp.relpath(osp.join(root, name), folder)
            for root, _, names in os.walk(folder) for name in names
        ]
    filenames = sorted(filenames)
    digest = hashlib.sha1()
    for name in filenames:
        digest.update(name.encode())
        with open(osp.join(folder, name), 'rb') as file:
            digest.update(file.read())
    commit = digest.hexdigest()
    repo_dir = osp.join(cache_dir, 'models--' + repo_id.replace('/', '--'))
    snapshot = osp.join(repo_dir, 'snapshots', commit)
    for name in filenames:
        target = osp.join(snapshot, name)
        os.makedirs(osp.dirname(target), exist_ok=True)
        shutil.copyfile(osp.join(folder, name), target)
    os.makedirs(osp.join(repo_dir, 'refs'), exist_ok=True)
    with open(osp.join(repo_dir, 'refs', 'main'), 'w') as file:
        file.write(commit)
    return snapshot
