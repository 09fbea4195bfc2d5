# Copyright (c) OpenMMLab. All rights reserved.
from typing import Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmvlsm.registry import MODELS


def conv_bn_relu(in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1) -> nn.Sequential:
    """A bias-free convolution (stride 1, 'same' padding), BN and ReLU."""
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            padding=kernel_size // 2,
            bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class CoordConv(nn.Module):
    """A 3x3 :func:`conv_bn_relu` on the input with its x and y coordinates
    (two channels in [-1, 1]) appended."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = conv_bn_relu(in_channels + 2, out_channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        batch, _, height, width = x.shape
        ys = torch.linspace(-1, 1, height, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1, 1, width, device=x.device, dtype=x.dtype)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
        coords = torch.stack([grid_x, grid_y]).expand(batch, -1, -1, -1)
        return self.conv1(torch.cat([x, coords], dim=1))


@MODELS.register_module()
class CRISFPN(BaseModule):
    """CRIS's multi-modal FPN: fuses C3-C5 with the sentence feature.

    1. The sentence feature, projected (Linear + BN + ReLU), multiplies the
       1x1-projected C5 element-wise (then BN + ReLU): F5 at 1/32.
    2. F4 = 1x1 conv of [3x3 conv(C4), F5 upsampled 2x], at 1/16.
    3. F3 = 1x1 conv of [3x3 conv(C3) average-pooled 2x, F4], at 1/16.
    4. F5, F4 and F3 are each 3x3-projected to ``out_channels[1]``, F5
       upsampled 2x, concatenated, aggregated by a 1x1 conv, then a
       coordinate convolution and a 3x3 conv give the visual queries.

    Every convolution is bias-free with BN and ReLU. Module names are
    CRIS's, so its checkpoints map one to one.

    Args:
        in_channels (Sequence[int]): Channels of C3, C4, C5.
            Defaults to (512, 1024, 1024) (CLIP RN50; RN101: C5 512).
        out_channels (Sequence[int]): Channels of F3 (before fusion), F4 and
            F5; the output has ``out_channels[1]``. Defaults to (256, 512,
            1024).
        text_channels (int): Channels of the sentence feature. Defaults to
            None, i.e. ``in_channels[2]`` as in CRIS, where the sentence and
            C5 share CLIP's embedding width.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (512, 1024, 1024),
                 out_channels: Sequence[int] = (256, 512, 1024),
                 text_channels: int = None,
                 init_cfg: dict = None):
        super().__init__(init_cfg=init_cfg)
        c3_in, c4_in, c5_in = in_channels
        f3_out, f4_out, f5_out = out_channels
        text_channels = text_channels or c5_in
        self.txt_proj = nn.Sequential(
            nn.Linear(text_channels, f5_out, bias=False),
            nn.BatchNorm1d(f5_out), nn.ReLU(inplace=True))
        # Fusion of C5 with the sentence.
        self.f1_v_proj = conv_bn_relu(c5_in, f5_out, 1)
        self.norm_layer = nn.Sequential(
            nn.BatchNorm2d(f5_out), nn.ReLU(inplace=True))
        # C4 with the upsampled F5.
        self.f2_v_proj = conv_bn_relu(c4_in, f4_out, 3)
        self.f2_cat = conv_bn_relu(f5_out + f4_out, f4_out, 1)
        # C3 (pooled to 1/16) with F4.
        self.f3_v_proj = conv_bn_relu(c3_in, f3_out, 3)
        self.f3_cat = conv_bn_relu(f3_out + f4_out, f4_out, 1)
        # Aggregation of F5, F4 and F3.
        self.f4_proj5 = conv_bn_relu(f5_out, f4_out, 3)
        self.f4_proj4 = conv_bn_relu(f4_out, f4_out, 3)
        self.f4_proj3 = conv_bn_relu(f4_out, f4_out, 3)
        self.aggr = conv_bn_relu(3 * f4_out, f4_out, 1)
        self.coordconv = nn.Sequential(
            CoordConv(f4_out, f4_out), conv_bn_relu(f4_out, f4_out, 3))

    def forward(self, feats: Tuple[Tensor, Tensor, Tensor],
                state: Tensor) -> Tensor:
        """Fuse the image features with the sentence.

        Args:
            feats (tuple[Tensor]): C3 (B, c3, H/8, W/8), C4 (B, c4, H/16,
                W/16) and C5 (B, c5, H/32, W/32).
            state (Tensor): Sentence features of shape (B, text_channels).

        Returns:
            Tensor: Visual queries of shape (B, out_channels[1], H/16,
            W/16).
        """
        c3, c4, c5 = feats
        state = self.txt_proj(state)[..., None, None]
        f5 = self.norm_layer(self.f1_v_proj(c5) * state)
        f4 = self.f2_cat(
            torch.cat([
                self.f2_v_proj(c4),
                F.interpolate(f5, scale_factor=2, mode='bilinear')
            ],
                      dim=1))
        f3 = F.avg_pool2d(self.f3_v_proj(c3), 2, 2)
        f3 = self.f3_cat(torch.cat([f3, f4], dim=1))
        fq5 = F.interpolate(self.f4_proj5(f5), scale_factor=2, mode='bilinear')
        fq = torch.cat([self.f4_proj3(f3), self.f4_proj4(f4), fq5], dim=1)
        return self.coordconv(self.aggr(fq))
