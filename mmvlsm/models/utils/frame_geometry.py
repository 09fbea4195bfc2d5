# Copyright (c) OpenMMLab. All rights reserved.
"""Where the pixels of an original image lie in a model's input frame.

A pipeline resizes or letterboxes each image into the input frame
(:class:`~mmvlsm.datasets.transforms.LetterBoxResize` stores its map as
``letterbox_matrix``); predictions over the frame are mapped back onto the
original pixels by sampling the frame where the map put each of them.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

# A 2x3 affine map from original to input-frame pixels (OpenCV's
# pixel-centre coordinates), as nested tuples so that it keys a group.
FrameMatrix = Tuple[Tuple[float, float, float], Tuple[float, float, float]]
# An image's (height, width); None where unknown.
Size = Tuple[int, int]
OptSize = Optional[Size]


def letterbox_map(meta: dict) -> Optional[FrameMatrix]:
    """The map a letterbox applied to a sample, None without a letterbox.

    It is ``letterbox_matrix`` of the metainfo (see
    :class:`~mmvlsm.datasets.transforms.LetterBoxResize`); metainfo with
    only ``letterbox_size`` (and ``img_shape``) gets the exactly centred
    map of that size.

    Args:
        meta (dict): A sample's metainfo.

    Returns:
        tuple, optional: The 2x3 matrix as nested tuples of floats.
    """
    if meta.get('letterbox_matrix') is not None:
        return tuple(
            tuple(float(v) for v in row) for row in meta['letterbox_matrix'])
    if meta.get('letterbox_size') is None:
        return None
    return centred_map(meta['ori_shape'][:2], meta['img_shape'][:2],
                       meta['letterbox_size'])


def centred_map(size: Size, frame: Size,
                content: Sequence[float]) -> FrameMatrix:
    """The exact map of an image scaled to ``content`` and centred.

    In continuous coordinates (pixel edges at integers) each side is
    scaled by ``s = content / size`` and offset by ``(frame - content) /
    2``; the matrix is that map for pixel centres. With ``content ==
    frame`` it is a plain resize's (OpenCV's ``resize``, mmcv's
    ``Resize``).

    Args:
        size (tuple[int, int]): The original (height, width).
        frame (tuple[int, int]): The frame's (height, width).
        content (tuple[float, float]): The image's (height, width) in the
            frame.

    Returns:
        tuple: The 2x3 matrix as nested tuples of floats.
    """
    (sy, sx) = (content[0] / size[0], content[1] / size[1])
    return ((sx, 0.0, (frame[1] - content[1]) / 2 + (sx - 1) / 2),
            (0.0, sy, (frame[0] - content[0]) / 2 + (sy - 1) / 2))


def sampling_grid(matrix: FrameMatrix, size: Size, frame: Size,
                  align_corners: bool, like: Tensor) -> Tensor:
    """Where each original pixel lies in the frame, for ``grid_sample``.

    Args:
        matrix (tuple): The 2x3 map from original to frame pixels.
        size (tuple[int, int]): The original (height, width).
        frame (tuple[int, int]): The frame's (height, width): the input's,
            whatever the resolution of the maps sampled.
        align_corners (bool): The ``grid_sample`` convention the grid is
            for: with True the maps sampled must be at the frame's size.
        like (Tensor): The grid's dtype and device.

    Returns:
        Tensor: The grid, (1, *size, 2), (x, y) normalised.
    """
    # Normalising is affine too: fold it into the map, per axis.
    rows = []
    for (a, b, c), extent in zip(matrix, frame[::-1]):
        if align_corners:
            scale, offset = 2 / max(extent - 1, 1), -1.0
        else:
            scale, offset = 2 / extent, 1 / extent - 1
        rows.append((scale * a, scale * b, scale * c + offset))
    xs = torch.arange(size[1], dtype=torch.float32, device=like.device)
    ys = torch.arange(size[0], dtype=torch.float32, device=like.device)
    grid = torch.stack(
        [a * xs[None, :] + (b * ys + c)[:, None] for a, b, c in rows], -1)
    return grid[None].to(like.dtype)


def sample_at_original_pixels(maps: Tensor, matrix: FrameMatrix, frame: Size,
                              size: Size, mode: str, padding_mode: str,
                              align_corners: bool) -> Tensor:
    """Sample maps over the frame where ``matrix`` put each original pixel.

    Args:
        maps (Tensor): Maps over the whole frame, (B, C, h, w); at the
            frame's size where ``align_corners``.
        matrix (tuple): The 2x3 map from original to frame pixels.
        frame (tuple[int, int]): The frame's (height, width).
        size (tuple[int, int]): The original (height, width).
        mode, padding_mode, align_corners: Those of ``F.grid_sample``.

    Returns:
        Tensor: The maps at the original pixels, (B, C, *size).
    """
    grid = sampling_grid(matrix, size, frame, align_corners, maps)
    return F.grid_sample(
        maps,
        grid.expand(maps.shape[0], -1, -1, -1),
        mode=mode,
        padding_mode=padding_mode,
        align_corners=align_corners)


def unletterbox(logits: Tensor, matrix: FrameMatrix, frame: Size,
                size: Size) -> Tensor:
    """Resample the image area of letterboxed logits to the original size.

    Each original pixel is sampled (bilinear, ``align_corners=False``)
    where the letterbox (:class:`~mmvlsm.datasets.transforms.
    LetterBoxResize`) put it, so the padding is dropped and the mapping is
    the exact inverse of the letterbox, whichever convention it followed.

    Args:
        logits (Tensor): Logits over the whole frame, (B, 1, h, w), any
            resolution.
        matrix (tuple): The letterbox's 2x3 map, see :func:`letterbox_map`.
        frame (tuple[int, int]): The frame's (height, width).
        size (tuple[int, int]): The original (height, width).

    Returns:
        Tensor: Logits of shape (B, 1, *size).
    """
    return sample_at_original_pixels(logits, matrix, frame, size, 'bilinear',
                                     'border', False)
