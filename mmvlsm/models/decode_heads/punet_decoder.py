# Copyright (c) OpenMMLab. All rights reserved.
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmvlsm.registry import MODELS
from ..utils.pswin import PSWinBlock


class PUNetDecoderLevel(nn.Module):
    """One decoder level: upsample x2, join the skip, conv, PSWin.

    ``up = bilinear x2 (cropped to the skip)``; ``x = conv3x3(LeakyReLU(
    BN(cat(up, skip))))``; then the PSWin block. No outer residual.

    Args:
        in_channels (int): Channels of the coarser input.
        out_channels (int): Channels of the skip and of the output.
        **pswin: Arguments of :class:`~mmvlsm.models.utils.pswin.PSWinBlock`.
    """

    def __init__(self, in_channels: int, out_channels: int, **pswin) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels + out_channels)
        self.act = nn.LeakyReLU(0.01)
        self.conv = nn.Conv2d(
            in_channels + out_channels, out_channels, 3, padding=1)
        self.pswin = PSWinBlock(out_channels, **pswin)

    def forward(self, x: Tensor, skip: Tensor, classes: Tensor) -> Tensor:
        up = F.interpolate(
            x, scale_factor=2, mode='bilinear', align_corners=False)
        up = up[:, :, :skip.shape[2], :skip.shape[3]]
        x = torch.cat([up, skip], dim=1)
        return self.pswin(self.conv(self.act(self.norm(x))), classes)


@MODELS.register_module()
class PUNetDecoder(BaseModule):
    """PUNet's decoder: four up levels with prompt-able shifted-window
    blocks, from the deepest encoder map back to 1/2 resolution.

    Args:
        channels (Sequence[int]): The encoder's level widths, shallow to
            deep. Defaults to (32, 64, 128, 256, 384).
        heads (int): Attention heads. Defaults to 8.
        window (Sequence[int]): Attention window. Defaults to (8, 8).
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
                 prompted_levels: Sequence[bool] = None,
                 init_cfg: dict = None,
                 **pswin) -> None:
        super().__init__(init_cfg=init_cfg)
        prompted = pswin.pop('prompted', True)
        widths = list(channels)[::-1]  # deep to shallow
        prompted_levels = prompted_levels or [True] * (len(widths) - 1)
        self.levels = nn.ModuleList(
            PUNetDecoderLevel(
                widths[i],
                widths[i + 1],
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
            Tensor: (B, channels[0], H/2, W/2), the dense embedding the head
            and the contrastive loss use.
        """
        x = feats[-1]
        for level, skip in zip(self.levels, feats[-2::-1]):
            x = level(x, skip, classes)
        return x
