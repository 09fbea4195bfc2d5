# Copyright (c) OpenMMLab. All rights reserved.
"""Window partition, padding and shift masks of (shifted) window attention,
in 2D and 3D, as PUNet's prompt-able shifted-window (PSWin) blocks use them.

Sizes, windows and shifts are tuples with one entry per spatial dimension
(``(H, W)`` or ``(H, W, D)``); feature maps are ``(B, C, *spatial)``.

Two window layouts:

- ``'local'`` (Swin's): a window is a ``wh x ww`` tile of neighbouring
  tokens;
- ``'strided'`` (upstream PUNet's, a consequence of the order of its einops
  factors): a window is a grid of tokens ``H / wh`` apart, so token
  ``(i, j)`` of window ``(a, b)`` sits at ``(i * H / wh + a, j * W / ww +
  b)``: every window spans the whole map.
"""
import itertools
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

Size = Tuple[int, ...]
# (before, after) padding of each spatial dimension.
Padding = Tuple[Tuple[int, int], ...]
LAYOUTS = ('local', 'strided')
# The id upstream PUNet gives the content of a padded map.
CONTENT_ID = 100


def fit_window(size: Size, window: Size, shift: Size) -> Tuple[Size, Size]:
    """Shrink the window (and drop the shift) along dims it covers whole.

    A feature map no larger than the window along a dimension is one window
    along it, unshifted (e.g. 7 x 7 maps under 8 x 8 windows).

    Args:
        size (tuple[int, ...]): Feature map size.
        window (tuple[int, ...]): Requested window.
        shift (tuple[int, ...]): Requested shift.

    Returns:
        tuple: The window and the shift to use.
    """
    fitted = tuple(min(s, w) for s, w in zip(size, window))
    shifted = tuple(0 if s <= w else sh
                    for s, w, sh in zip(size, window, shift))
    return fitted, shifted


def padding_for(size: Size, window: Size) -> Padding:
    """Symmetric padding that makes ``size`` a multiple of ``window``.

    Returns:
        tuple[tuple[int, int], ...]: ``(before, after)`` per dimension; an
        odd total puts the extra row (column, slice) after.
    """
    totals = [(-s) % w for s, w in zip(size, window)]
    return tuple((t // 2, t - t // 2) for t in totals)


def upstream_padding(size: Size, window: Size) -> Padding:
    """Upstream PUNet's padding amounts, as ``(low, high)`` per dimension.

    Computed only when some dimension is not a multiple of the window, and
    then for every dimension as ``window - size % window`` split into
    ``floor`` and ``ceil`` halves, so a dimension that already divides gets
    a whole extra window; a window of 1 gets no padding. Upstream pads
    ``high`` before and ``low`` after (its pad list is reversed for
    ``F.pad``) but crops ``low`` from the start: see
    :func:`pad_upstream`.
    """
    if all(s % w == 0 for s, w in zip(size, window)):
        return tuple((0, 0) for _ in size)
    padding = []
    for s, w in zip(size, window):
        total = w - s % w
        padding.append((0, 0) if w == 1 else (total // 2, total - total // 2))
    return tuple(padding)


def pad(x: Tensor, padding: Padding) -> Tensor:
    """Zero-pad the spatial dims of ``x`` by ``(before, after)`` each."""
    if not any(any(p) for p in padding):
        return x
    flat = [amount for p in reversed(padding) for amount in p]
    return F.pad(x, flat)


def crop(x: Tensor, start: Sequence[int], size: Size) -> Tensor:
    """``x[..., start:start + size]`` over the spatial dims."""
    index = (Ellipsis, ) + tuple(slice(s, s + n) for s, n in zip(start, size))
    return x[index]


def pad_upstream(x: Tensor, padding: Padding) -> Tensor:
    """Pad as upstream PUNet does: ``high`` before, ``low`` after (crop
    with ``low`` as the start to reproduce its one-pixel offset)."""
    return pad(x, tuple((high, low) for low, high in padding))


def window_partition(x: Tensor, window: Size, layout: str = 'local') -> Tensor:
    """Cut a feature map into windows.

    Args:
        x (Tensor): (B, C, *spatial), each dim a multiple of the window.
        window (tuple[int, ...]): The window.
        layout (str): ``'local'`` or ``'strided'`` (see the module
            docstring). Defaults to 'local'.

    Returns:
        Tensor: (B, nW, N, C), N = prod(window); windows and their tokens
        in row-major order.
    """
    b, c, *size = x.shape
    nd = len(size)
    counts = [s // w for s, w in zip(size, window)]
    if layout == 'local':
        shape = [v for n, w in zip(counts, window) for v in (n, w)]
        order = [2 + 2 * i for i in range(nd)] + [3 + 2 * i for i in range(nd)]
    else:
        shape = [v for n, w in zip(counts, window) for v in (w, n)]
        order = [3 + 2 * i for i in range(nd)] + [2 + 2 * i for i in range(nd)]
    x = x.reshape(b, c, *shape).permute(0, *order, 1)
    return x.reshape(b, -1, _prod(window), c)


def window_reverse(windows: Tensor,
                   window: Size,
                   size: Size,
                   layout: str = 'local') -> Tensor:
    """Inverse of :func:`window_partition`.

    Args:
        windows (Tensor): (B, nW, N, C).
        window (tuple[int, ...]): The window.
        size (tuple[int, ...]): The (padded) map size.
        layout (str): The layout the windows were cut with.

    Returns:
        Tensor: (B, C, *size).
    """
    b, _, _, c = windows.shape
    nd = len(size)
    counts = [s // w for s, w in zip(size, window)]
    x = windows.reshape(b, *counts, *window, c)
    # Axes of x: 1..nd the window counts, nd+1..2nd the in-window offsets.
    if layout == 'local':
        order = [a for i in range(nd) for a in (1 + i, 1 + nd + i)]
    else:
        order = [a for i in range(nd) for a in (1 + nd + i, 1 + i)]
    return x.permute(0, 2 * nd + 1, *order).reshape(b, c, *size)


def _prod(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _region_slices(length: int, window: int, shift: int) -> Tuple[slice, ...]:
    if shift == 0:
        return (slice(0, length), )
    return (slice(0, length - window), slice(length - window, length - shift),
            slice(length - shift, length))


def shift_region_ids(size: Size,
                     window: Size,
                     shift: Size,
                     relabel_padding: Optional[Padding] = None,
                     device: Optional[torch.device] = None) -> Tensor:
    """Swin's region ids of a padded map after the cyclic shift.

    After ``torch.roll(-shift)``, the last ``shift`` rows (columns) hold
    tokens from the far side of the map: tokens of one window may only
    attend to tokens of the same region. The ids are given in the rolled
    frame, on the padded grid, as Swin does, so padding joins the region it
    lies in.

    Args:
        size (tuple[int, ...]): The padded map.
        window (tuple[int, ...]): The window.
        shift (tuple[int, ...]): The shift; 0 along a dim gives one region
            there.
        relabel_padding (tuple, optional): Upstream PUNet's quirk: when the
            map is padded by these ``(low, high)`` amounts (any nonzero),
            ``ids[low:size - high]`` (in unrolled coordinates) becomes
            :data:`CONTENT_ID`, which merges the regions of the content.
            Defaults to None.
        device (torch.device, optional): Device of the result.

    Returns:
        Tensor: (*size) int64 ids.
    """
    ids = torch.zeros(size, dtype=torch.long, device=device)
    slices = [_region_slices(*args) for args in zip(size, window, shift)]
    for count, region in enumerate(itertools.product(*slices)):
        ids[region] = count
    if relabel_padding is not None and any(any(p) for p in relabel_padding):
        ids[tuple(slice(low, s - high)
                  for s, (low, high) in zip(size, relabel_padding))] = \
            CONTENT_ID
    return ids


def shift_window_mask(size: Size,
                      window: Size,
                      shift: Size,
                      relabel_padding: Optional[Padding] = None,
                      layout: str = 'local',
                      device: Optional[torch.device] = None) -> Tensor:
    """Which tokens of each shifted window share a region.

    Args:
        size, window, shift, relabel_padding, device: See
            :func:`shift_region_ids`.
        layout (str): The window layout.

    Returns:
        Tensor: (nW, N, N) bool, True where query i and key j share a
        region.
    """
    ids = shift_region_ids(size, window, shift, relabel_padding, device)
    windows = window_partition(ids[None, None].float(), window,
                               layout)[0, :, :, 0]
    return windows[:, :, None] == windows[:, None, :]


def relative_offsets(window: Size,
                     device: Optional[torch.device] = None) -> Tensor:
    """Per-axis offsets between the tokens of a window.

    Returns:
        Tensor: (ndim, N, N) int64, ``offsets[a, i, j] = pos_i[a] -
        pos_j[a]``.
    """
    axes = [torch.arange(w, device=device) for w in window]
    grid = torch.stack(torch.meshgrid(*axes, indexing='ij')).flatten(1)
    return grid[:, :, None] - grid[:, None, :]
