# Copyright (c) OpenMMLab. All rights reserved.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmvlsm.registry import MODELS
from ..necks.cris_fpn import conv_bn_relu


def sine_position_encoding_1d(length: int, channels: int) -> Tensor:
    """Transformer sine/cosine encodings of positions 0..length-1.

    Channel ``2i`` holds ``sin(p / 10000^(2i / channels))`` and channel
    ``2i + 1`` the cosine.

    Returns:
        Tensor: Shape (length, channels).
    """
    if channels % 2:
        raise ValueError(f'1-D sine encodings need an even number of '
                         f'channels, got {channels}.')
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(
        torch.arange(0, channels, 2, dtype=torch.float32) *
        (-math.log(10000.0) / channels))
    encoding = torch.empty(length, channels)
    encoding[:, 0::2] = torch.sin(position * freq)
    encoding[:, 1::2] = torch.cos(position * freq)
    return encoding


def sine_position_encoding_2d(height: int, width: int,
                              channels: int) -> Tensor:
    """Sine encodings of a grid: the first half of the channels encodes
    the column as :func:`sine_position_encoding_1d`, the second half the
    row.

    Returns:
        Tensor: Shape (height * width, channels), rows in raster order.
    """
    if channels % 4:
        raise ValueError(f'2-D sine encodings need a multiple of 4 '
                         f'channels, got {channels}.')
    half = channels // 2
    cols = sine_position_encoding_1d(width, half)  # (W, half)
    rows = sine_position_encoding_1d(height, half)  # (H, half)
    grid = torch.cat([
        cols[None].expand(height, -1, -1), rows[:, None].expand(-1, width, -1)
    ],
                     dim=-1)
    return grid.reshape(height * width, channels)


class CRISDecoderLayer(nn.Module):
    """A pre-norm layer of CRIS's vision-language decoder.

    Self-attention among the visual tokens, then cross-attention from them
    to the words, then an FFN; each sub-layer normalises its input
    (``norm1``-``norm3``) and, for the attentions, also its output
    (``self_attn_norm``, ``cross_attn_norm``) before the residual sum.
    Queries and keys get their position encodings; values do not.

    Args:
        embed_dims (int): Width of the tokens. Defaults to 512.
        num_heads (int): Attention heads. Defaults to 8.
        ffn_channels (int): Hidden width of the FFN. Defaults to 2048.
        dropout (float): Dropout of attention weights, FFN and residual
            branches. Defaults to 0.1.
    """

    def __init__(self,
                 embed_dims: int = 512,
                 num_heads: int = 8,
                 ffn_channels: int = 2048,
                 dropout: float = 0.1):
        super().__init__()
        self.self_attn_norm = nn.LayerNorm(embed_dims)
        self.cross_attn_norm = nn.LayerNorm(embed_dims)
        self.self_attn = nn.MultiheadAttention(
            embed_dims, num_heads, dropout=dropout, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(
            embed_dims, num_heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(
            nn.Linear(embed_dims, ffn_channels), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.LayerNorm(ffn_channels),
            nn.Linear(ffn_channels, embed_dims))
        self.norm1 = nn.LayerNorm(embed_dims)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.norm3 = nn.LayerNorm(embed_dims)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, vis: Tensor, words: Tensor, vis_pos: Tensor,
                word_pos: Tensor, pad_mask: Tensor) -> Tensor:
        """Update the visual tokens.

        Args:
            vis (Tensor): Visual tokens (B, N, C).
            words (Tensor): Word features (B, L, C).
            vis_pos (Tensor): Their position encodings (N, C).
            word_pos (Tensor): The words' position encodings (L, C).
            pad_mask (Tensor): True at padding words, (B, L).

        Returns:
            Tensor: The updated visual tokens (B, N, C).
        """
        x = self.norm1(vis)
        q = x + vis_pos
        x = self.self_attn(q, q, x, need_weights=False)[0]
        vis = vis + self.dropout1(self.self_attn_norm(x))
        x = self.norm2(vis)
        x = self.multihead_attn(
            x + vis_pos,
            words + word_pos,
            words,
            key_padding_mask=pad_mask,
            need_weights=False)[0]
        vis = vis + self.dropout2(self.cross_attn_norm(x))
        return vis + self.dropout3(self.ffn(self.norm3(vis)))


class CRISProjector(nn.Module):
    """CRIS's text-to-pixel projector.

    The visual queries are upsampled 4x (two bilinear 2x steps, each
    followed by a 3x3 conv) to ``in_channels // 2`` channels; the sentence
    feature is mapped to one 3x3 kernel (and bias) per sample, which
    convolves its own sample's map into one logit per pixel.

    Args:
        in_channels (int): Channels of the visual queries. Defaults to 512.
        text_channels (int): Channels of the sentence feature.
            Defaults to 1024.
        kernel_size (int): Side of the dynamic kernel. Defaults to 3.
    """

    def __init__(self,
                 in_channels: int = 512,
                 text_channels: int = 1024,
                 kernel_size: int = 3):
        super().__init__()
        channels = in_channels // 2
        self.kernel_size = kernel_size
        self.vis = nn.Sequential(
            nn.Upsample(scale_factor=2, mode='bilinear'),
            conv_bn_relu(in_channels, in_channels, 3),
            nn.Upsample(scale_factor=2, mode='bilinear'),
            conv_bn_relu(in_channels, channels, 3),
            nn.Conv2d(channels, channels, 1))
        self.txt = nn.Linear(text_channels, channels * kernel_size**2 + 1)

    def forward(self, x: Tensor, state: Tensor) -> Tensor:
        """Predict logits.

        Args:
            x (Tensor): Visual queries (B, in_channels, h, w).
            state (Tensor): Sentence features (B, text_channels).

        Returns:
            Tensor: Logits of shape (B, 1, 4h, 4w).
        """
        x = self.vis(x)
        batch, channels, height, width = x.shape
        params = self.txt(state)
        weight = params[:, :-1].reshape(batch, channels, self.kernel_size,
                                        self.kernel_size)
        # One group per sample: each sample's map meets its own kernel.
        out = F.conv2d(
            x.reshape(1, batch * channels, height, width),
            weight,
            bias=params[:, -1],
            padding=self.kernel_size // 2,
            groups=batch)
        return out.reshape(batch, 1, height, width)


class CRISTransformerDecoder(nn.Module):
    """CRIS's vision-language decoder: :class:`CRISDecoderLayer` s and a
    final LayerNorm, with 2-D sine position encodings for the visual grid
    and 1-D ones for the words.

    Args:
        num_layers (int): Decoder layers. Defaults to 3.
        embed_dims (int): Width of the tokens. Defaults to 512.
        num_heads (int): Attention heads. Defaults to 8.
        ffn_channels (int): Hidden width of the FFNs. Defaults to 2048.
        dropout (float): Dropout. Defaults to 0.1.
    """

    def __init__(self,
                 num_layers: int = 3,
                 embed_dims: int = 512,
                 num_heads: int = 8,
                 ffn_channels: int = 2048,
                 dropout: float = 0.1):
        super().__init__()
        self.layers = nn.ModuleList(
            CRISDecoderLayer(embed_dims, num_heads, ffn_channels, dropout)
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, queries: Tensor, words: Tensor,
                pad_mask: Tensor) -> Tensor:
        """Decode the visual queries with the words.

        Args:
            queries (Tensor): Visual queries (B, C, h, w).
            words (Tensor): Word features (B, L, C).
            pad_mask (Tensor): True at padding words, (B, L).

        Returns:
            Tensor: The decoded queries (B, C, h, w).
        """
        batch, channels, height, width = queries.shape
        vis_pos = sine_position_encoding_2d(height, width, channels).to(
            queries.device, queries.dtype)
        word_pos = sine_position_encoding_1d(words.shape[1], channels).to(
            words.device, words.dtype)
        vis = queries.flatten(2).transpose(1, 2)
        for layer in self.layers:
            vis = layer(vis, words, vis_pos, word_pos, pad_mask)
        vis = self.norm(vis)
        return vis.transpose(1, 2).reshape(batch, channels, height, width)


@MODELS.register_module()
class CRISHead(BaseModule):
    """CRIS's vision-language decoder and projector.

    The visual queries from :class:`~mmvlsm.models.necks.CRISFPN` attend to
    each other and to the words in a :class:`CRISTransformerDecoder`
    (padding words masked out), and :class:`CRISProjector` turns them into
    logits at 4x their resolution (1/4 of the input). Module names are
    CRIS's (``decoder``, ``proj``).

    Args:
        in_channels (int): Width of the visual queries and of the word
            features. Defaults to 512.
        text_channels (int): Width of the sentence feature. Defaults to
            1024.
        num_layers (int): Decoder layers. Defaults to 3.
        num_heads (int): Attention heads. Defaults to 8.
        ffn_channels (int): Hidden width of the FFNs. Defaults to 2048.
        dropout (float): Dropout in the decoder: 0.1 in CRIS, 0.2 in
            medvlsm. Defaults to 0.1.
        kernel_size (int): Side of the projector's dynamic kernel.
            Defaults to 3.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 512,
                 text_channels: int = 1024,
                 num_layers: int = 3,
                 num_heads: int = 8,
                 ffn_channels: int = 2048,
                 dropout: float = 0.1,
                 kernel_size: int = 3,
                 init_cfg: dict = None):
        super().__init__(init_cfg=init_cfg)
        self.decoder = CRISTransformerDecoder(num_layers, in_channels,
                                              num_heads, ffn_channels, dropout)
        self.proj = CRISProjector(in_channels, text_channels, kernel_size)

    def forward(self, queries: Tensor, words: Tensor, pad_mask: Tensor,
                state: Tensor) -> Tensor:
        """Decode the queries with the prompt.

        Args:
            queries (Tensor): Visual queries (B, C, h, w).
            words (Tensor): Word features (B, L, C).
            pad_mask (Tensor): True at padding words, (B, L).
            state (Tensor): Sentence features (B, text_channels).

        Returns:
            Tensor: Logits of shape (B, 1, 4h, 4w).
        """
        return self.proj(self.decoder(queries, words, pad_mask), state)
