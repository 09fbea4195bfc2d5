# Copyright (c) OpenMMLab. All rights reserved.
"""Window partition, padding and shift masks of (shifted) window attention,
in 2D, as PUNet's prompt-able shifted-window (PSWin) blocks use them."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

Size2 = Tuple[int, int]


def fit_window(size: Size2, window: Size2,
               shift: Size2) -> Tuple[Size2, Size2]:
    """Shrink the window (and drop the shift) along dims it covers whole.

    A feature map no larger than the window along a dimension is one window
    along it, unshifted (e.g. 7 x 7 maps under 8 x 8 windows).

    Args:
        size (tuple[int, int]): Feature map (H, W).
        window (tuple[int, int]): Requested window.
        shift (tuple[int, int]): Requested shift.

    Returns:
        tuple: The window and the shift to use.
    """
    fitted = tuple(min(s, w) for s, w in zip(size, window))
    shifted = tuple(0 if s <= w else sh
                    for s, w, sh in zip(size, window, shift))
    return fitted, shifted


def padding_for(size: Size2, window: Size2) -> Tuple[int, int, int, int]:
    """Symmetric padding that makes ``size`` a multiple of ``window``.

    Returns:
        tuple[int, int, int, int]: ``(left, right, top, bottom)``, in the
        order of ``F.pad`` for the last two dims; an odd total puts the
        extra row/column after.
    """
    pad_h = (-size[0]) % window[0]
    pad_w = (-size[1]) % window[1]
    return (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)


def window_partition(x: Tensor, window: Size2) -> Tensor:
    """Cut a feature map into non-overlapping windows.

    Args:
        x (Tensor): (B, C, H, W), H and W multiples of the window.
        window (tuple[int, int]): (wh, ww).

    Returns:
        Tensor: (B, nW, wh * ww, C), windows in row-major order and tokens
        in row-major order inside each window.
    """
    b, c, h, w = x.shape
    wh, ww = window
    x = x.view(b, c, h // wh, wh, w // ww, ww)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, -1, wh * ww, c)


def window_reverse(windows: Tensor, window: Size2, size: Size2) -> Tensor:
    """Inverse of :func:`window_partition`.

    Args:
        windows (Tensor): (B, nW, wh * ww, C).
        window (tuple[int, int]): (wh, ww).
        size (tuple[int, int]): The (padded) map (H, W).

    Returns:
        Tensor: (B, C, H, W).
    """
    b, _, _, c = windows.shape
    (wh, ww), (h, w) = window, size
    x = windows.view(b, h // wh, w // ww, wh, ww, c)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(b, c, h, w)


def shift_region_ids(size: Size2,
                     window: Size2,
                     shift: Size2,
                     padding: Tuple[int, int, int, int] = (0, 0, 0, 0),
                     relabel_padded_content: bool = False,
                     device: torch.device = None) -> Tensor:
    """Swin's region ids of a padded map after the cyclic shift.

    After ``torch.roll(-shift)``, the last ``shift`` rows (columns) hold
    pixels from the far side of the map: tokens of one window may only
    attend to tokens of the same region. The ids are given in the rolled
    frame (the frame of the shifted features), on the padded grid, as Swin
    does, so padding joins the region it lies in.

    Args:
        size (tuple[int, int]): The padded map (H, W).
        window (tuple[int, int]): The window.
        shift (tuple[int, int]): The shift; 0 along a dim gives one region
            there.
        padding (tuple[int, int, int, int]): ``(left, right, top, bottom)``
            padding inside ``size``.
        relabel_padded_content (bool): PUNet's quirk: when there is
            padding, give every non-padded pixel the id 100, which merges
            the regions of the content and defeats the shift masking.
            Defaults to False.
        device (torch.device, optional): Device of the result.

    Returns:
        Tensor: (H, W) int64 ids.
    """
    h, w = size
    ids = torch.zeros(h, w, dtype=torch.long, device=device)
    count = 0
    for rows in _region_slices(h, window[0], shift[0]):
        for cols in _region_slices(w, window[1], shift[1]):
            ids[rows, cols] = count
            count += 1
    if relabel_padded_content and any(padding):
        left, right, top, bottom = padding
        content = torch.zeros(h, w, dtype=torch.bool, device=device)
        content[top:h - bottom, left:w - right] = True
        content = torch.roll(content, (-shift[0], -shift[1]), dims=(0, 1))
        ids[content] = 100
    return ids


def _region_slices(length: int, window: int, shift: int) -> Tuple[slice, ...]:
    if shift == 0:
        return (slice(0, length), )
    return (slice(0, length - window), slice(length - window, length - shift),
            slice(length - shift, length))


def shift_window_mask(size: Size2,
                      window: Size2,
                      shift: Size2,
                      padding: Tuple[int, int, int, int] = (0, 0, 0, 0),
                      relabel_padded_content: bool = False,
                      device: torch.device = None) -> Tensor:
    """Which tokens of each shifted window may attend to which.

    Args:
        size, window, shift, padding, relabel_padded_content, device: See
            :func:`shift_region_ids`.

    Returns:
        Tensor: (nW, N, N) bool, True where query i and key j share a
        region (N = wh * ww).
    """
    ids = shift_region_ids(size, window, shift, padding,
                           relabel_padded_content, device)
    windows = window_partition(ids[None, None].float(), window)[0, :, :, 0]
    return windows[:, :, None] == windows[:, None, :]


def relative_offsets(window: Size2, device: torch.device = None) -> Tensor:
    """Row and column offsets between the tokens of a window.

    Returns:
        Tensor: (2, N, N) int64, ``[dh, dw][i, j] = pos_i - pos_j``.
    """
    rows = torch.arange(window[0], device=device)
    cols = torch.arange(window[1], device=device)
    grid = torch.stack(torch.meshgrid(rows, cols, indexing='ij')).flatten(1)
    return grid[:, :, None] - grid[:, None, :]


def pad_to_windows(x: Tensor,
                   window: Size2) -> Tuple[Tensor, Tuple[int, int, int, int]]:
    """Zero-pad (B, C, H, W) symmetrically to a multiple of ``window``."""
    padding = padding_for(x.shape[-2:], window)
    return (F.pad(x, padding) if any(padding) else x), padding
