# Copyright (c) OpenMMLab. All rights reserved.
"""PUNet's prompt-able shifted-window (PSWin) block and its parts.

A PSWin block is two pre-norm window attention blocks, the second on windows
shifted by half a window (Swin). Before each, the learned prompt tokens of
the sample's active class are prepended to every window; they take part in
the attention and are dropped after it, so each block gets fresh prompts
from its own pool (deep prompting). The attention logits get PUNet's
heterogeneous bias: a decomposed relative-position bias between image
tokens, and a learned per-class, per-token bias for image-to-prompt
attention.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .shifted_windows import (Size2, fit_window, pad_to_windows,
                              relative_offsets, shift_window_mask,
                              window_partition, window_reverse)

MASK_MODES = ('additive', 'multiplicative')


class PromptPool(nn.Module):
    """Learned prompts, ``num_tokens`` x ``channels`` per class.

    Args:
        channels (int): Token width.
        num_classes (int): Classes the pool holds prompts for (PUNet's
            ``instruction_pool_size``, 10). Defaults to 10.
        num_tokens (int): Tokens per class. Defaults to 16.
    """

    def __init__(self,
                 channels: int,
                 num_classes: int = 10,
                 num_tokens: int = 16) -> None:
        super().__init__()
        # One parameter per class, so that a class's prompts can be trained
        # alone (phase-2 prompting names ``prompts.<class>``).
        self.prompts = nn.ParameterList(
            nn.Parameter(torch.empty(num_tokens, channels))
            for _ in range(num_classes))
        for prompt in self.prompts:
            nn.init.xavier_uniform_(prompt)

    def forward(self, classes: Tensor) -> Tensor:
        """Prompts of each sample's classes.

        Args:
            classes (Tensor): (B, K) class indices per sample.

        Returns:
            Tensor: (B, K * num_tokens, channels). Classes no sample uses
            get no gradient (not a zero one), so weight decay leaves them
            alone.
        """
        return torch.stack([
            torch.cat([self.prompts[int(c)] for c in row]) for row in classes
        ])


class HeterogeneousBias(nn.Module):
    """PUNet's attention bias for one window attention block.

    Image-to-image: a relative-position bias decomposed per axis,
    ``(s_h[dh] + s_w[dw] + s_d[0]) / 3`` per head, where ``s_a[d]`` projects
    a learned embedding of the offset (``dim`` wide) on a per-head vector.
    Offsets are clamped to the configured window. The depth term (offset 0
    only in 2D) is kept: it is the 2D form of PUNet's 3D bias and shifts
    image-to-image against image-to-prompt logits. Image-to-prompt: a
    learned embedding per class and prompt token, projected per head,
    broadcast over the image tokens. Prompt rows get no bias (their outputs
    are dropped). Everything is scaled by ``dim ** -0.5``.

    Args:
        heads (int): Attention heads.
        window (tuple[int, int]): The configured window.
        num_classes (int): Classes with a prompt bias. Defaults to 10.
        num_tokens (int): Prompt tokens per class. Defaults to 16.
        dim (int): Embedding width. Defaults to 32.
        use_content (bool): Image-to-image bias. Defaults to True.
        use_prompt (bool): Image-to-prompt bias. Defaults to True.
    """

    def __init__(self,
                 heads: int,
                 window: Size2,
                 num_classes: int = 10,
                 num_tokens: int = 16,
                 dim: int = 32,
                 use_content: bool = True,
                 use_prompt: bool = True) -> None:
        super().__init__()
        self.window = tuple(window)
        self.scale = dim**-0.5
        self.use_content = use_content
        self.use_prompt = use_prompt
        # Tables of offsets -(w-1)..(w-1) per axis; depth has offset 0 only.
        self.content_tables = nn.ParameterList(
            nn.Parameter(torch.empty(2 * w - 1, dim))
            for w in (*self.window, 1))
        self.content_weights = nn.ParameterList(
            nn.Parameter(torch.empty(heads, dim)) for _ in range(3))
        self.prompt_embeddings = nn.ParameterList(
            nn.Parameter(torch.empty(num_tokens, dim))
            for _ in range(num_classes))
        self.prompt_weights = nn.Parameter(torch.empty(heads, dim))
        for param in self.parameters():
            nn.init.xavier_uniform_(param)

    def content_bias(self, window: Size2) -> Optional[Tensor]:
        """(heads, N, N) image-to-image bias of a (possibly shrunk) window,
        or None without it."""
        if not self.use_content:
            return None
        offsets = relative_offsets(window, self.prompt_weights.device)
        scores = []
        for axis in range(2):
            limit = self.window[axis] - 1
            index = offsets[axis].clamp(-limit, limit) + limit
            per_offset = self.content_weights[axis] @ self.content_tables[
                axis].t()  # (heads, 2w-1)
            scores.append(per_offset[:, index])
        depth = self.content_weights[2] @ self.content_tables[2][0]
        return (scores[0] + scores[1] + depth[:, None, None]) / 3 * self.scale

    def prompt_bias(self, classes: Tensor) -> Optional[Tensor]:
        """(B, heads, T) image-to-prompt bias of each sample's active class
        (classes: (B, K)), or None without it."""
        if not self.use_prompt:
            return None
        embeddings = torch.stack([
            torch.cat([self.prompt_embeddings[int(c)] for c in row])
            for row in classes
        ])  # (B, T, dim)
        return torch.einsum('btd,hd->bht', embeddings,
                            self.prompt_weights) * self.scale


class WindowAttentionBlock(nn.Module):
    """PUNet's pre-norm attention block over the tokens of windows.

    ``x += proj(attention(norm1(x)))``; ``x += mlp(norm2(x))``, where the
    "MLP" is a single linear layer without activation, as in PUNet; q, k
    and v are bias-free projections of the same normed tokens. With
    ``adapter``, a bottleneck (C -> C/4 -> C, LeakyReLU) is added as a
    residual after the MLP (PUNet's ``adapter`` adaptation variant).

    Args:
        channels (int): Token width.
        heads (int): Attention heads. Defaults to 8.
        adapter (bool): Add the bottleneck adapter. Defaults to False.
    """

    def __init__(self,
                 channels: int,
                 heads: int = 8,
                 adapter: bool = False) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f'{channels} channels do not split into {heads} '
                             'heads')
        self.heads = heads
        self.norm1 = nn.LayerNorm(channels)
        self.q = nn.Linear(channels, channels, bias=False)
        self.k = nn.Linear(channels, channels, bias=False)
        self.v = nn.Linear(channels, channels, bias=False)
        self.proj = nn.Linear(channels, channels)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = nn.Linear(channels, channels)
        self.adapter = nn.Sequential(
            nn.Linear(channels, channels // 4), nn.LeakyReLU(),
            nn.Linear(channels // 4, channels)) if adapter else None

    def forward(self,
                x: Tensor,
                bias: Optional[Tensor] = None,
                mask: Optional[Tensor] = None,
                mask_mode: str = 'additive') -> Tensor:
        """Attend within each window.

        Args:
            x (Tensor): (B, nW, L, C) tokens.
            bias (Tensor, optional): Logit bias broadcastable to
                (B, nW, heads, L, L).
            mask (Tensor, optional): Bool, broadcastable to
                (B, nW, heads, L, L): True where attention is allowed.
            mask_mode (str): ``'additive'`` (masked logits -inf) or
                ``'multiplicative'`` (PUNet's: logits times the 0/1 mask,
                so masked logits become 0). Defaults to 'additive'.

        Returns:
            Tensor: (B, nW, L, C).
        """
        b, n, length, c = x.shape
        normed = self.norm1(x)

        def split(t: Tensor) -> Tensor:
            return t.view(b, n, length, self.heads, -1).transpose(2, 3)

        q, k, v = split(self.q(normed)), split(self.k(normed)), split(
            self.v(normed))
        if mask_mode == 'additive':
            attn_mask = bias
            if mask is not None:
                blocked = torch.zeros(
                    mask.shape, dtype=q.dtype,
                    device=q.device).masked_fill(~mask, float('-inf'))
                attn_mask = blocked if bias is None else bias + blocked
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        else:
            logits = q @ k.transpose(-2, -1) * q.shape[-1]**-0.5
            if bias is not None:
                logits = logits + bias
            if mask is not None:
                logits = logits * mask
            out = logits.softmax(dim=-1) @ v
        x = x + self.proj(out.transpose(2, 3).reshape(b, n, length, c))
        x = x + self.mlp(self.norm2(x))
        if self.adapter is not None:
            x = x + self.adapter(x)
        return x


class PSWinBlock(nn.Module):
    """PUNet's prompt-able shifted-window block (W-MSA, then SW-MSA).

    Each of the two attention blocks has its own prompt pool and bias. The
    feature map is zero-padded symmetrically to whole windows; a map no
    larger than the window along a dim is one unshifted window there.

    Args:
        channels (int): Feature channels.
        heads (int): Attention heads. Defaults to 8.
        window (tuple[int, int]): Window; the shift is half of it.
            Defaults to (8, 8).
        num_classes (int): Prompt pool size. Defaults to 10.
        num_tokens (int): Prompt tokens per class. Defaults to 16.
        prompted (bool): Prepend the prompts to the windows (False: PUNet's
            non-prompted attention; the pools stay, unused). Defaults to
            True.
        bias_dim (int): Width of the bias embeddings. Defaults to 32.
        use_content_bias (bool): Image-to-image bias. Defaults to True.
        use_prompt_bias (bool): Image-to-prompt bias. Defaults to True.
        mask_mode (str): See :class:`WindowAttentionBlock`. Defaults to
            'additive'; PUNet's is 'multiplicative'.
        relabel_padded_content (bool): PUNet's quirk of
            :func:`~mmvlsm.models.utils.shifted_windows.shift_region_ids`.
            Defaults to False.
        adapter (bool): Bottleneck adapters in both blocks. Defaults to
            False.
    """

    def __init__(self,
                 channels: int,
                 heads: int = 8,
                 window: Sequence[int] = (8, 8),
                 num_classes: int = 10,
                 num_tokens: int = 16,
                 prompted: bool = True,
                 bias_dim: int = 32,
                 use_content_bias: bool = True,
                 use_prompt_bias: bool = True,
                 mask_mode: str = 'additive',
                 relabel_padded_content: bool = False,
                 adapter: bool = False) -> None:
        super().__init__()
        if mask_mode not in MASK_MODES:
            raise ValueError(f'mask_mode must be one of {MASK_MODES}, got '
                             f'{mask_mode!r}')
        self.window = tuple(window)
        self.prompted = prompted
        self.mask_mode = mask_mode
        self.relabel_padded_content = relabel_padded_content
        self.attentions = nn.ModuleList(
            WindowAttentionBlock(channels, heads, adapter) for _ in range(2))
        self.pools = nn.ModuleList(
            PromptPool(channels, num_classes, num_tokens) for _ in range(2))
        self.biases = nn.ModuleList(
            HeterogeneousBias(heads, self.window, num_classes, num_tokens,
                              bias_dim, use_content_bias, use_prompt_bias)
            for _ in range(2))

    def forward(self, x: Tensor, classes: Tensor) -> Tensor:
        """Apply both blocks.

        Args:
            x (Tensor): (B, C, H, W).
            classes (Tensor): (B, K) class indices whose prompts each sample
                gets (PUNet: its active foreground class, K = 1).

        Returns:
            Tensor: (B, C, H, W).
        """
        size = tuple(x.shape[-2:])
        for index, shifted in enumerate((False, True)):
            half = tuple(w // 2 for w in self.window) if shifted else (0, 0)
            window, shift = fit_window(size, self.window, half)
            x = self._attend(x, classes, index, window, shift)
        return x

    def _attend(self, x: Tensor, classes: Tensor, index: int, window: Size2,
                shift: Size2) -> Tensor:
        height, width = x.shape[-2:]
        x, padding = pad_to_windows(x, window)
        padded = tuple(x.shape[-2:])
        if any(shift):
            x = torch.roll(x, (-shift[0], -shift[1]), dims=(2, 3))
        tokens = window_partition(x, window)  # (B, nW, N, C)
        b, num_windows, n, _ = tokens.shape
        bias_module = self.biases[index]
        content_bias = bias_module.content_bias(window)
        mask = None
        if any(shift):
            mask = shift_window_mask(padded, window, shift, padding,
                                     self.relabel_padded_content,
                                     x.device)  # (nW, N, N)
        num_prompts = 0
        if self.prompted:
            prompts = self.pools[index](classes)  # (B, T, C)
            num_prompts = prompts.shape[1]
            tokens = torch.cat(
                [prompts[:, None].expand(-1, num_windows, -1, -1), tokens],
                dim=2)
        bias = self._full_bias(
            content_bias,
            bias_module.prompt_bias(classes) if self.prompted else None,
            num_prompts, n)
        if mask is not None and num_prompts:
            # Image tokens always see the prompts; prompt rows are dropped.
            full = torch.ones(
                num_windows,
                num_prompts + n,
                num_prompts + n,
                dtype=torch.bool,
                device=x.device)
            full[:, num_prompts:, num_prompts:] = mask
            mask = full
        out = self.attentions[index](
            tokens,
            bias=bias,
            mask=mask[None, :, None] if mask is not None else None,
            mask_mode=self.mask_mode)[:, :, num_prompts:]
        x = window_reverse(out, window, padded)
        if any(shift):
            x = torch.roll(x, shift, dims=(2, 3))
        left, _, top, _ = padding
        return x[:, :, top:top + height, left:left + width]

    @staticmethod
    def _full_bias(content: Optional[Tensor], prompt: Optional[Tensor],
                   num_prompts: int, n: int) -> Optional[Tensor]:
        """Assemble the (B or 1, 1, heads, T + N, T + N) logit bias."""
        if content is None and prompt is None:
            return None
        ref = content if content is not None else prompt
        heads = ref.shape[-3] if content is not None else ref.shape[1]
        batch = prompt.shape[0] if prompt is not None else 1
        length = num_prompts + n
        bias = ref.new_zeros(batch, heads, length, length)
        if content is not None:
            bias[:, :, num_prompts:, num_prompts:] = content
        if prompt is not None and num_prompts:
            bias[:, :, num_prompts:, :num_prompts] = prompt[:, :, None]
        return bias[:, None]
