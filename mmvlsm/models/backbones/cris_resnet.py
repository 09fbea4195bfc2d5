# Copyright (c) OpenMMLab. All rights reserved.
from typing import Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from open_clip.modified_resnet import ModifiedResNet
from torch import Tensor

from mmvlsm.registry import MODELS


class SpatialAttentionPool2d(nn.Module):
    """CLIP's attention pool, turned by CRIS into a dense feature map.

    CLIP's ``AttentionPool2d`` pools the C5 map into one vector: a query
    made from the mean feature attends over every position. CRIS drops the
    mean token and lets every position attend to every other, keeping the
    spatial map, and adds a residual 1x1 convolution + BN branch
    (``connect``, new in CRIS) before a ReLU. The position embeddings, learnt
    on a ``spatial_dim`` x ``spatial_dim`` grid (7x7 for 224 px CLIP), are
    resized bicubically to the input's grid; their class-token row is kept
    (so CLIP weights load) but unused.

    Args:
        spatial_dim (int): Side of the grid the position embeddings were
            learnt on.
        embed_dim (int): Channels of the input (C5 of the ResNet).
        num_heads (int): Attention heads.
        output_dim (int): Channels of the output.
    """

    def __init__(self, spatial_dim: int, embed_dim: int, num_heads: int,
                 output_dim: int):
        super().__init__()
        self.spatial_dim = spatial_dim
        self.num_heads = num_heads
        self.positional_embedding = nn.Parameter(
            torch.randn(spatial_dim**2 + 1, embed_dim) / embed_dim**0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim)
        self.connect = nn.Sequential(
            nn.Conv2d(embed_dim, output_dim, 1, bias=False),
            nn.BatchNorm2d(output_dim))

    def spatial_position_embedding(self, height: int, width: int) -> Tensor:
        """The grid's position embeddings resized to (height, width).

        Returns:
            Tensor: Shape (height * width, embed_dim).
        """
        side = self.spatial_dim
        grid = self.positional_embedding[1:].reshape(1, side, side, -1)
        grid = F.interpolate(
            grid.permute(0, 3, 1, 2),
            size=(height, width),
            mode='bicubic',
            align_corners=False)
        return grid.flatten(2)[0].transpose(0, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Attend over all positions of ``x``.

        Args:
            x (Tensor): Features of shape (B, embed_dim, H, W).

        Returns:
            Tensor: Features of shape (B, output_dim, H, W).
        """
        batch, channels, height, width = x.shape
        residual = self.connect(x)
        tokens = x.flatten(2).transpose(1, 2)  # (B, HW, C)
        tokens = tokens + self.spatial_position_embedding(height, width).to(
            tokens.dtype)

        def heads(t: Tensor) -> Tensor:
            return t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            heads(self.q_proj(tokens)), heads(self.k_proj(tokens)),
            heads(self.v_proj(tokens)))
        out = self.c_proj(out.transpose(1, 2).flatten(2))  # (B, HW, out)
        out = out.transpose(1, 2).reshape(batch, -1, height, width)
        return F.relu(out + residual)


@MODELS.register_module()
class CRISResNet(ModifiedResNet):
    """CLIP's modified ResNet as CRIS uses it: C3, C4 and a dense C5.

    open_clip's :class:`~open_clip.modified_resnet.ModifiedResNet` (three
    stem convolutions, anti-aliased strides) with CLIP's attention pool
    replaced by :class:`SpatialAttentionPool2d`, so the last stage keeps its
    spatial map. Parameter names are CLIP's, so OpenAI CLIP ResNet weights
    load as they are (``attnpool.connect`` is CRIS's own and starts at
    random).

    For CLIP RN50: ``layers=(3, 4, 6, 3)``, ``output_dim=1024``; RN101:
    ``layers=(3, 4, 23, 3)``, ``output_dim=512``; both ``width=64``,
    ``heads=32``, ``pretrain_img_size=224``.

    Args:
        layers (Sequence[int]): Bottleneck blocks per stage.
            Defaults to (3, 4, 6, 3).
        width (int): Channels of the stem; stage i has ``width * 2**i *
            4`` output channels. Defaults to 64.
        output_dim (int): Channels of C5. Defaults to 1024.
        heads (int): Heads of the attention pool. Defaults to 32.
        pretrain_img_size (int): Input size the attention pool's position
            embeddings were learnt at. Defaults to 224.
    """

    def __init__(self,
                 layers: Sequence[int] = (3, 4, 6, 3),
                 width: int = 64,
                 output_dim: int = 1024,
                 heads: int = 32,
                 pretrain_img_size: int = 224):
        super().__init__(
            list(layers),
            output_dim=output_dim,
            heads=heads,
            image_size=pretrain_img_size,
            width=width)
        self.attnpool = SpatialAttentionPool2d(pretrain_img_size // 32,
                                               width * 32, heads, output_dim)
        # CLIP's initialisation again, now for the new attention pool.
        self.init_parameters()
        self.out_channels = (width * 8, width * 16, output_dim)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Compute C3, C4 and C5.

        Args:
            x (Tensor): Normalized images of shape (B, 3, H, W), H and W
                multiples of 32.

        Returns:
            tuple[Tensor]: C3 (B, 8 * width, H/8, W/8), C4 (B, 16 * width,
            H/16, W/16) and C5 (B, output_dim, H/32, W/32).
        """
        x = self.layer1(self.stem(x))
        c3 = self.layer2(x)
        c4 = self.layer3(c3)
        c5 = self.attnpool(self.layer4(c4))
        return c3, c4, c5
