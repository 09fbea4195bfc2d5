# Copyright (c) OpenMMLab. All rights reserved.
from typing import List, Sequence

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmvlsm.registry import MODELS
from ..utils.pswin import PSWinBlock


class UNetResStem(nn.Module):
    """MONAI's ``UnetResBlock`` as PUNet's stem, in 2D: two 3x3 convs
    (the first strided) with batch norm and LeakyReLU(0.01), a strided 1x1
    conv on the residual; convs without bias (MONAI's default there).

    Args:
        in_channels (int): Image channels.
        out_channels (int): Output channels.
        stride (int): Stride of the first conv. Defaults to 2.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 2) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels)
        self.conv3 = nn.Conv2d(
            in_channels, out_channels, 1, stride, bias=False)
        self.norm3 = nn.BatchNorm2d(out_channels)
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
        stride (int): 1 or 2.
        **pswin: Arguments of :class:`~mmvlsm.models.utils.pswin.PSWinBlock`.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 **pswin) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.act = nn.LeakyReLU(0.01)
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1)
        self.pswin = PSWinBlock(out_channels, **pswin)
        self.residual_norm = nn.BatchNorm2d(in_channels)
        self.residual_conv = nn.Conv2d(in_channels, out_channels, 1, stride)

    def forward(self, x: Tensor, classes: Tensor) -> Tensor:
        out = self.pswin(self.conv(self.act(self.norm(x))), classes)
        return out + self.residual_conv(self.residual_norm(x))


@MODELS.register_module()
class PUNetEncoder(BaseModule):
    """PUNet's encoder: a CNN stem at 1/2 resolution, then five levels with
    prompt-able shifted-window blocks (2D form of PUNet's ``2d`` setting,
    where every 3D kernel has depth 1).

    Args:
        in_channels (int): Image channels. Defaults to 1 (CT).
        channels (Sequence[int]): Widths of the levels; the first is also
            the stem's. Defaults to (32, 64, 128, 256, 384).
        heads (int): Attention heads. Defaults to 8.
        window (Sequence[int]): Attention window. Defaults to (8, 8).
        prompted_levels (Sequence[bool], optional): Per level, whether its
            PSWin block takes the prompts (PUNet's ``prompting_variant``:
            all for ``full``, the first only for ``start``). Defaults to
            None (all).
        init_cfg (dict, optional): Initialisation config.
        **pswin: Further arguments of
            :class:`~mmvlsm.models.utils.pswin.PSWinBlock` (``num_classes``,
            ``num_tokens``, ``prompted``, ``mask_mode``, ...).
    """

    def __init__(self,
                 in_channels: int = 1,
                 channels: Sequence[int] = (32, 64, 128, 256, 384),
                 heads: int = 8,
                 window: Sequence[int] = (8, 8),
                 prompted_levels: Sequence[bool] = None,
                 init_cfg: dict = None,
                 **pswin) -> None:
        super().__init__(init_cfg=init_cfg)
        self.channels = tuple(channels)
        prompted = pswin.pop('prompted', True)
        prompted_levels = prompted_levels or [True] * len(channels)
        self.stem = UNetResStem(in_channels, channels[0])
        self.levels = nn.ModuleList(
            PUNetEncoderLevel(
                channels[max(i - 1, 0)],
                width,
                stride=1 if i == 0 else 2,
                heads=heads,
                window=window,
                prompted=prompted and prompted_levels[i],
                **pswin) for i, width in enumerate(channels))

    def forward(self, x: Tensor, classes: Tensor) -> List[Tensor]:
        """Encode.

        Args:
            x (Tensor): (B, in_channels, H, W).
            classes (Tensor): (B, K) prompted classes per sample.

        Returns:
            list[Tensor]: One map per level, (B, channels[i], H / 2^(i+1),
            W / 2^(i+1)) (sizes rounded up).
        """
        x = self.stem(x)
        outs = []
        for level in self.levels:
            x = level(x, classes)
            outs.append(x)
        return outs
