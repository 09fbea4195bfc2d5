# Copyright (c) OpenMMLab. All rights reserved.
"""Window partition, shift and mask of PUNet's PSWin blocks, checked
against a naive per-window loop on sizes the window does not divide."""
import pytest
import torch

from mmvlsm.models.utils.pswin import PSWinBlock
from mmvlsm.models.utils.shifted_windows import (crop, fit_window, pad,
                                                 pad_upstream, padding_for,
                                                 shift_region_ids,
                                                 upstream_padding,
                                                 window_partition,
                                                 window_reverse)


def test_partition_round_trip_and_order():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).view(2, 3, 4, 6)
    windows = window_partition(x, (2, 3))
    assert windows.shape == (2, 4, 6, 3)
    # Window 1 is the top-right 2 x 3 block, tokens row-major.
    torch.testing.assert_close(windows[0, 1, :, 0], x[0, 0, :2,
                                                      3:].flatten())
    torch.testing.assert_close(window_reverse(windows, (2, 3), (4, 6)), x)


def test_strided_windows_are_grids_over_the_map():
    x = torch.arange(2 * 3 * 4 * 6 * 2, dtype=torch.float32).view(
        2, 3, 4, 6, 2)
    windows = window_partition(x, (2, 3, 1), 'strided')
    # 2 x 2 x 2 windows; window (a, b, c) holds (i * 2 + a, j * 2 + b, c).
    assert windows.shape == (2, 8, 6, 3)
    a, b, c = 1, 0, 1
    expected = x[0, 0, a::2, b::2, c].flatten()
    torch.testing.assert_close(windows[0, a * 4 + b * 2 + c, :, 0], expected)
    torch.testing.assert_close(
        window_reverse(windows, (2, 3, 1), (4, 6, 2), 'strided'), x)
    local = window_partition(x, (2, 3, 1))
    torch.testing.assert_close(
        window_reverse(local, (2, 3, 1), (4, 6, 2)), x)
    torch.testing.assert_close(local[0, 1, :, 0], x[0, 0, :2, :3, 1].flatten())


def test_fit_window_and_padding():
    assert fit_window((7, 20), (8, 8), (4, 4)) == ((7, 8), (0, 4))
    assert padding_for((13, 16), (8, 8)) == ((1, 2), (0, 0))
    # Upstream: a dimension that divides still gets a whole window when
    # another does not; a window of 1 none; nothing when all divide.
    assert upstream_padding((13, 16, 1), (8, 8, 1)) == ((1, 2), (4, 4),
                                                        (0, 0))
    assert upstream_padding((16, 16), (8, 8)) == ((0, 0), (0, 0))
    x = torch.arange(3.).view(1, 1, 3, 1)
    # Upstream pads the larger half first; cropping the smaller half from
    # the start moves the content by one.
    padded = pad_upstream(x, ((0, 1), (0, 0)))
    assert padded[0, 0, :, 0].tolist() == [0, 0, 1, 2]
    assert crop(padded, (0, 0), (3, 1))[0, 0, :, 0].tolist() == [0, 0, 1]
    assert pad(x, ((0, 1), (0, 0)))[0, 0, :, 0].tolist() == [0, 1, 2, 0]


def naive_region(pos, length, window, shift):
    """Swin's region of a position of the rolled, padded axis."""
    if shift == 0:
        return 0
    return 0 if pos < length - window else (1 if pos < length - shift else 2)


def naive_shifted_attention(block, x, window, shift):
    """The shifted-window sub-block by explicit loops over windows."""
    b, c, h, w = x.shape
    pad_h, pad_w = (-h) % window[0], (-w) % window[1]
    top, left = pad_h // 2, pad_w // 2
    padded = torch.zeros(b, c, h + pad_h, w + pad_w)
    padded[:, :, top:top + h, left:left + w] = x
    hp, wp = padded.shape[-2:]
    rolled = torch.roll(padded, (-shift[0], -shift[1]), dims=(2, 3))
    out = torch.empty_like(rolled)
    for r0 in range(0, hp, window[0]):
        for c0 in range(0, wp, window[1]):
            cells = [(r, c) for r in range(r0, r0 + window[0])
                     for c in range(c0, c0 + window[1])]
            tokens = torch.stack([rolled[:, :, r, col] for r, col in cells],
                                 dim=1)  # (B, N, C)
            regions = [(naive_region(r, hp, window[0], shift[0]),
                        naive_region(col, wp, window[1], shift[1]))
                       for r, col in cells]
            mask = torch.tensor([[a == b_ for b_ in regions]
                                 for a in regions])
            result = block(tokens[:, None], mask=mask[None, None, None])[:, 0]
            for i, (r, col) in enumerate(cells):
                out[:, :, r, col] = result[:, i]
    out = torch.roll(out, shift, dims=(2, 3))
    return out[:, :, top:top + h, left:left + w]


@pytest.mark.parametrize('size', [(13, 11), (16, 16), (9, 20)])
def test_shifted_window_attention_matches_naive_loop(size):
    torch.manual_seed(0)
    block = PSWinBlock(
        8, heads=2, window=(4, 4), prompted=False,
        use_content_bias=False).eval()
    x = torch.randn(2, 8, *size)
    window, shift = fit_window(size, (4, 4), (2, 2))
    padding = padding_for(size, window)
    with torch.no_grad():
        fast = crop(
            block._attend(
                pad(x, padding), torch.zeros(2, 1, dtype=torch.long), 1,
                window, shift, padding), [p[0] for p in padding], size)
        slow = naive_shifted_attention(block.attentions[1], x, window, shift)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)


def test_padded_content_relabel_quirk_merges_regions():
    size, window, shift = (10, 10), (4, 4), (2, 2)
    padding = ((1, 1), (1, 1))
    ids = shift_region_ids(size, window, shift)
    assert len(ids.unique()) == 9
    quirk = shift_region_ids(size, window, shift, padding)
    # Every non-padded pixel (unrolled coordinates) shares one id: the
    # shift masking is gone.
    assert (quirk == 100).sum() == 8 * 8
    assert (quirk[1:9, 1:9] == 100).all()
    no_padding = shift_region_ids((8, 8), window, shift, ((0, 0), (0, 0)))
    assert len(no_padding.unique()) == 9
    # 3D: regions along the third axis too.
    assert len(shift_region_ids((8, 8, 4), (4, 4, 2), (2, 2, 1)).unique()) \
        == 27
