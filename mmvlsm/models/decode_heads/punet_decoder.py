# Copyright (c) OpenMMLab. All rights reserved.
"""PUNet's decoder, in 2D (B, C, H, W) and 3D (B, C, H, W, D)."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmvlsm.registry import MODELS
from ..backbones.punet_encoder import (batch_norm_nd, conv_nd, depth_schedule,
                                       in_plane)
from ..utils.pswin import PSWinBlock


class PUNetDecoderLevel(nn.Module):
    """One decoder level: upsample, join the skip, conv, PSWin.

    ``up = (bi|tri)linear x2 in-plane, x depth stride (cropped to the
    skip)``; ``x = conv3x3(LeakyReLU(BN(cat(up, skip))))``; then the PSWin
    block. No outer residual.

    Args:
        in_channels (int): Channels of the coarser input.
        out_channels (int): Channels of the skip and of the output.
        scale (tuple[int, ...]): Upsampling factor per spatial dim.
        kernel (tuple[int, ...]): Conv kernel per spatial dim.
        **pswin: Arguments of :class:`~mmvlsm.models.utils.pswin.PSWinBlock`.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 scale: Sequence[int], kernel: Sequence[int], **pswin) -> None:
        super().__init__()
        dims = len(kernel)
        self.scale = tuple(float(s) for s in scale)
        self.mode = 'bilinear' if dims == 2 else 'trilinear'
        self.norm = batch_norm_nd(dims, in_channels + out_channels)
        self.act = nn.LeakyReLU(0.01)
        self.conv = conv_nd(dims, in_channels + out_channels, out_channels,
                            kernel, (1, ) * dims, True)
        self.pswin = PSWinBlock(out_channels, **pswin)

    def forward(self, x: Tensor, skip: Tensor, classes: Tensor) -> Tensor:
        up = F.interpolate(
            x, scale_factor=self.scale, mode=self.mode, align_corners=False)
        up = up[(Ellipsis, ) + tuple(slice(0, s) for s in skip.shape[2:])]
        x = torch.cat([up, skip], dim=1)
        return self.pswin(self.conv(self.act(self.norm(x))), classes)


@MODELS.register_module()
class PUNetDecoder(BaseModule):
    """PUNet's decoder: four up levels with prompt-able shifted-window
    blocks, from the deepest encoder map back to 1/2 in-plane resolution.

    Args:
        channels (Sequence[int]): The encoder's level widths, shallow to
            deep. Defaults to (32, 64, 128, 256, 384).
        heads (int): Attention heads. Defaults to 8.
        window (Sequence[int]): Attention window, (h, w) or (h, w, d).
            Defaults to (8, 8).
        patch_depth (int, optional): 3D: the encoder's ``patch_depth``,
            whose depth strides the levels undo. Required in 3D.
        prompted_levels (Sequence[bool], optional): Per level (deep to
            shallow), whether it takes the prompts. Defaults to None (all).
        init_cfg (dict, optional): Initialisation config.
        **pswin: Further arguments of
            :class:`~mmvlsm.models.utils.pswin.PSWinBlock`.
    """

    def __init__(self,
                 channels: Sequence[int] = (32, 64, 128, 256, 384),
                 heads: int = 8,
                 window: Sequence[int] = (8, 8),
                 patch_depth: Optional[int] = None,
                 prompted_levels: Sequence[bool] = None,
                 init_cfg: dict = None,
                 **pswin) -> None:
        super().__init__(init_cfg=init_cfg)
        dims = len(window)
        if (dims == 3) != (patch_depth is not None):
            raise ValueError('patch_depth is for 3D windows and required '
                             f'there; got window {tuple(window)} and '
                             f'patch_depth {patch_depth}')
        _, kernels, strides = depth_schedule(patch_depth or 1, len(channels))
        kernels, strides = kernels[::-1], strides[::-1]  # deep to shallow
        prompted = pswin.pop('prompted', True)
        widths = list(channels)[::-1]
        prompted_levels = prompted_levels or [True] * (len(widths) - 1)
        self.levels = nn.ModuleList(
            PUNetDecoderLevel(
                widths[i],
                widths[i + 1],
                scale=in_plane(dims, 2, strides[i]),
                kernel=in_plane(dims, 3, kernels[i]),
                heads=heads,
                window=window,
                prompted=prompted and prompted_levels[i],
                **pswin) for i in range(len(widths) - 1))
        self.out_channels = widths[-1]

    def forward(self, feats: List[Tensor], classes: Tensor) -> Tensor:
        """Decode.

        Args:
            feats (list[Tensor]): The encoder's maps, shallow to deep.
            classes (Tensor): (B, K) prompted classes per sample.

        Returns:
            Tensor: (B, channels[0], H/2, W/2[, D]), the dense embedding the
            head and the contrastive loss use.
        """
        x = feats[-1]
        for level, skip in zip(self.levels, feats[-2::-1]):
            x = level(x, skip, classes)
        return x
