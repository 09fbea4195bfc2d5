# Copyright (c) OpenMMLab. All rights reserved.
"""PUNet's encoder, in 2D (B, C, H, W) and 3D (B, C, H, W, D).

3D maps keep upstream PUNet's (and MONAI's) layout, depth last: slices are
the anisotropic axis, never strided by the stem, and strided in the levels
only while the patch depth allows (see :func:`depth_schedule`).
"""
from typing import List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmvlsm.registry import MODELS
from ..utils.pswin import PSWinBlock


def depth_schedule(patch_depth: int,
                   levels: int) -> Tuple[int, List[int], List[int]]:
    """Upstream PUNet's depth kernels and strides for a patch depth.

    The stem's depth kernel is 3 from a depth of 3 on, else 1. Level ``l``
    sees depth ``patch_depth / 2**l``: its depth kernel is 3 where that is
    at least 3, its depth stride 2 where it is above 1 (level 0 never
    strides).

    Args:
        patch_depth (int): Depth of the training patches (the students').
        levels (int): Encoder levels.

    Returns:
        tuple: The stem's depth kernel, the levels' depth kernels and their
        depth strides.
    """
    stem = 3 if patch_depth >= 3 else 1
    kernels = [3 if patch_depth / 2**i >= 3 else 1 for i in range(levels)]
    strides = [1] + [
        2 if patch_depth / 2**i > 1 else 1 for i in range(1, levels)
    ]
    return stem, kernels, strides


def conv_nd(dims: int, in_channels: int, out_channels: int,
            kernel: Sequence[int], stride: Sequence[int],
            bias: bool) -> nn.Module:
    """A 2D or 3D conv with 'same' padding for odd kernels."""
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    return conv(
        in_channels,
        out_channels,
        tuple(kernel),
        tuple(stride),
        padding=tuple(k // 2 for k in kernel),
        bias=bias)


def batch_norm_nd(dims: int, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm3d(channels)


def in_plane(dims: int, value: int, depth: int) -> Tuple[int, ...]:
    """``(value, value)`` in 2D, ``(value, value, depth)`` in 3D."""
    return (value, value) if dims == 2 else (value, value, depth)


class UNetResStem(nn.Module):
    """MONAI's ``UnetResBlock`` as PUNet's stem: two 3x3(xk) convs (the
    first strided in-plane) with batch norm and LeakyReLU(0.01), a strided
    1x1 conv on the residual; convs without bias (MONAI's default there).

    Args:
        in_channels (int): Image channels.
        out_channels (int): Output channels.
        stride (int): In-plane stride of the first conv. Defaults to 2.
        dims (int): 2 or 3. Defaults to 2.
        depth_kernel (int): Depth of the 3D kernels. Defaults to 1.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 2,
                 dims: int = 2,
                 depth_kernel: int = 1) -> None:
        super().__init__()
        kernel = in_plane(dims, 3, depth_kernel)
        strides = in_plane(dims, stride, 1)
        ones = in_plane(dims, 1, 1)
        self.conv1 = conv_nd(dims, in_channels, out_channels, kernel, strides,
                             False)
        self.norm1 = batch_norm_nd(dims, out_channels)
        self.conv2 = conv_nd(dims, out_channels, out_channels, kernel, ones,
                             False)
        self.norm2 = batch_norm_nd(dims, out_channels)
        self.conv3 = conv_nd(dims, in_channels, out_channels, ones, strides,
                             False)
        self.norm3 = batch_norm_nd(dims, out_channels)
        self.act = nn.LeakyReLU(0.01)

    def forward(self, x: Tensor) -> Tensor:
        out = self.act(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return self.act(out + self.norm3(self.conv3(x)))


class PUNetEncoderLevel(nn.Module):
    """One encoder level: pre-activation conv, PSWin, strided residual.

    ``x = conv3x3(LeakyReLU(BN(x)))`` (strided), then the PSWin block, plus
    ``conv1x1(BN(x_in))`` (strided) of the input.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (tuple[int, ...]): Stride per spatial dim.
        kernel (tuple[int, ...]): Conv kernel per spatial dim.
        **pswin: Arguments of :class:`~mmvlsm.models.utils.pswin.PSWinBlock`.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 stride: Sequence[int], kernel: Sequence[int],
                 **pswin) -> None:
        super().__init__()
        dims = len(kernel)
        self.norm = batch_norm_nd(dims, in_channels)
        self.act = nn.LeakyReLU(0.01)
        self.conv = conv_nd(dims, in_channels, out_channels, kernel, stride,
                            True)
        self.pswin = PSWinBlock(out_channels, **pswin)
        self.residual_norm = batch_norm_nd(dims, in_channels)
        self.residual_conv = conv_nd(dims, in_channels, out_channels,
                                     (1, ) * dims, stride, True)

    def forward(self, x: Tensor, classes: Tensor) -> Tensor:
        out = self.pswin(self.conv(self.act(self.norm(x))), classes)
        return out + self.residual_conv(self.residual_norm(x))


@MODELS.register_module()
class PUNetEncoder(BaseModule):
    """PUNet's encoder: a CNN stem at 1/2 in-plane resolution, then five
    levels with prompt-able shifted-window blocks.

    2D (``window`` of two entries) is PUNet's ``2d`` setting, where every
    3D kernel has depth 1; 3D (three entries, maps (B, C, H, W, D)) follows
    upstream's depth rules for ``patch_depth`` (:func:`depth_schedule`).

    Args:
        in_channels (int): Image channels. Defaults to 1 (CT).
        channels (Sequence[int]): Widths of the levels; the first is also
            the stem's. Defaults to (32, 64, 128, 256, 384).
        heads (int): Attention heads. Defaults to 8.
        window (Sequence[int]): Attention window, (h, w) or (h, w, d).
            Defaults to (8, 8).
        patch_depth (int, optional): 3D: the depth of the training patches
            (upstream's student depth), which sets the depth kernels and
            strides. Required in 3D.
        prompted_levels (Sequence[bool], optional): Per level, whether its
            PSWin block takes the prompts (PUNet's ``prompting_variant``:
            all for ``full``, the first only for ``start``). Defaults to
            None (all).
        init_cfg (dict, optional): Initialisation config.
        **pswin: Further arguments of
            :class:`~mmvlsm.models.utils.pswin.PSWinBlock` (``num_classes``,
            ``num_tokens``, ``prompted``, ``upstream``, ``mask_mode``, ...).
    """

    def __init__(self,
                 in_channels: int = 1,
                 channels: Sequence[int] = (32, 64, 128, 256, 384),
                 heads: int = 8,
                 window: Sequence[int] = (8, 8),
                 patch_depth: Optional[int] = None,
                 prompted_levels: Sequence[bool] = None,
                 init_cfg: dict = None,
                 **pswin) -> None:
        super().__init__(init_cfg=init_cfg)
        self.channels = tuple(channels)
        self.dims = len(window)
        if self.dims not in (2, 3):
            raise ValueError(f'window must be 2D or 3D, got {window}')
        if (self.dims == 3) != (patch_depth is not None):
            raise ValueError('patch_depth is for 3D windows and required '
                             f'there; got window {tuple(window)} and '
                             f'patch_depth {patch_depth}')
        stem_kernel, kernels, strides = depth_schedule(patch_depth or 1,
                                                       len(channels))
        self.depth_strides = strides
        self.depth_kernels = kernels
        prompted = pswin.pop('prompted', True)
        prompted_levels = prompted_levels or [True] * len(channels)
        self.stem = UNetResStem(in_channels, channels[0], 2, self.dims,
                                stem_kernel)
        self.levels = nn.ModuleList(
            PUNetEncoderLevel(
                channels[max(i - 1, 0)],
                width,
                stride=in_plane(self.dims, 1 if i == 0 else 2, strides[i]),
                kernel=in_plane(self.dims, 3, kernels[i]),
                heads=heads,
                window=window,
                prompted=prompted and prompted_levels[i],
                **pswin) for i, width in enumerate(channels))

    def forward(self, x: Tensor, classes: Tensor) -> List[Tensor]:
        """Encode.

        Args:
            x (Tensor): (B, in_channels, H, W) or (B, in_channels, H, W, D).
            classes (Tensor): (B, K) prompted classes per sample.

        Returns:
            list[Tensor]: One map per level, (B, channels[i], H / 2^(i+1),
            W / 2^(i+1)[, D / depth strides]) (sizes rounded up).
        """
        x = self.stem(x)
        outs = []
        for level in self.levels:
            x = level(x, classes)
            outs.append(x)
        return outs
