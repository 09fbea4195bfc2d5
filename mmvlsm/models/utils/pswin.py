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

from .shifted_windows import (LAYOUTS, Padding, Size, crop, fit_window, pad,
                              pad_upstream, padding_for, relative_offsets,
                              shift_window_mask, upstream_padding,
                              window_partition, window_reverse)

MASK_MODES = ('additive', 'multiplicative')
PADDINGS = ('symmetric', 'upstream')
# Upstream PUNet's PSWin behaviours, each an option of PSWinBlock (and of
# WindowAttentionBlock for kv_from_q); ``upstream=True`` sets them all.
UPSTREAM_PSWIN = dict(
    kv_from_q=True,
    window_layout='strided',
    mask_mode='multiplicative',
    relabel_padded_content=True,
    padding='upstream')


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
    ``(s_h[dh] + s_w[dw] + s_d[dd]) / 3`` per head, where ``s_a[d]``
    projects a learned embedding of the offset (``dim`` wide) on a per-head
    vector. Offsets are clamped to the configured window. In 2D the depth
    term (offset 0 only) is kept: it is the 2D form of PUNet's 3D bias and
    shifts image-to-image against image-to-prompt logits. Image-to-prompt:
    a learned embedding per class and prompt token, projected per head,
    broadcast over the image tokens. Prompt rows get no bias (their outputs
    are dropped). Everything is scaled by ``dim ** -0.5``.

    Args:
        heads (int): Attention heads.
        window (tuple[int, ...]): The configured window, 2D or 3D.
        num_classes (int): Classes with a prompt bias. Defaults to 10.
        num_tokens (int): Prompt tokens per class. Defaults to 16.
        dim (int): Embedding width. Defaults to 32.
        use_content (bool): Image-to-image bias. Defaults to True.
        use_prompt (bool): Image-to-prompt bias. Defaults to True.
    """

    def __init__(self,
                 heads: int,
                 window: Size,
                 num_classes: int = 10,
                 num_tokens: int = 16,
                 dim: int = 32,
                 use_content: bool = True,
                 use_prompt: bool = True) -> None:
        super().__init__()
        if len(window) not in (2, 3):
            raise ValueError(f'window must be 2D or 3D, got {window}')
        # Height, width and depth; a 2D window has depth 1.
        self.window = tuple(window) + (1, ) * (3 - len(window))
        self.scale = dim**-0.5
        self.use_content = use_content
        self.use_prompt = use_prompt
        # Tables of offsets -(w-1)..(w-1) per axis.
        self.content_tables = nn.ParameterList(
            nn.Parameter(torch.empty(2 * w - 1, dim)) for w in self.window)
        self.content_weights = nn.ParameterList(
            nn.Parameter(torch.empty(heads, dim)) for _ in range(3))
        self.prompt_embeddings = nn.ParameterList(
            nn.Parameter(torch.empty(num_tokens, dim))
            for _ in range(num_classes))
        self.prompt_weights = nn.Parameter(torch.empty(heads, dim))
        for param in self.parameters():
            nn.init.xavier_uniform_(param)

    def content_bias(self, window: Size) -> Optional[Tensor]:
        """(heads, N, N) image-to-image bias of a (possibly shrunk) window,
        or None without it."""
        if not self.use_content:
            return None
        offsets = relative_offsets(window, self.prompt_weights.device)
        total = 0
        for axis in range(3):
            limit = self.window[axis] - 1
            per_offset = self.content_weights[axis] @ self.content_tables[
                axis].t()  # (heads, 2w-1)
            if axis < len(window):
                index = offsets[axis].clamp(-limit, limit) + limit
                total = total + per_offset[:, index]
            else:  # a 2D map's depth: offset 0 everywhere
                total = total + per_offset[:, limit, None, None]
        return total / 3 * self.scale

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
        kv_from_q (bool): Upstream PUNet's attention: k and v project the
            projected q (``k = W_k W_q x``), as its code reassigns ``q``
            before computing them. Defaults to False (``k = W_k x``).
    """

    def __init__(self,
                 channels: int,
                 heads: int = 8,
                 adapter: bool = False,
                 kv_from_q: bool = False) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f'{channels} channels do not split into {heads} '
                             'heads')
        self.heads = heads
        self.kv_from_q = kv_from_q
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
                (B, nW, heads, L, L). ``'additive'``: True where attention
                is allowed (the others get -inf). ``'multiplicative'``:
                the logits are multiplied by it (False gives logit 0).
            mask_mode (str): ``'additive'`` or ``'multiplicative'``.
                Defaults to 'additive'.

        Returns:
            Tensor: (B, nW, L, C).
        """
        b, n, length, c = x.shape
        normed = self.norm1(x)

        def split(t: Tensor) -> Tensor:
            return t.view(b, n, length, self.heads, -1).transpose(2, 3)

        q = self.q(normed)
        source = q if self.kv_from_q else normed
        q, k, v = split(q), split(self.k(source)), split(self.v(source))
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
    """PUNet's prompt-able shifted-window block (W-MSA, then SW-MSA), 2D or
    3D.

    Each of the two attention blocks has its own prompt pool and bias. The
    feature map is zero-padded to whole windows; a map no larger than the
    window along a dim is one unshifted window there.

    Upstream PUNet (marcdcfischer/PUNet) differs in five ways, each an
    option here; ``upstream=True`` sets them all (see
    ``configs/punet/README.md`` for what each changes):

    - ``kv_from_q``: k and v are projections of the projected q;
    - ``window_layout='strided'``: windows are strided grids over the map;
    - ``mask_mode='multiplicative'``: the SW-MSA logits are multiplied by a
      0/1 mask that is 1 where the region ids *differ*, and this mask is
      applied even when the shift is 0 (a window covering the map);
    - ``relabel_padded_content``: on a padded map the content's region ids
      become one id (in unrolled coordinates), see
      :func:`~mmvlsm.models.utils.shifted_windows.shift_region_ids`;
    - ``padding='upstream'``: padding computed once per block (padded
      tokens carry the W-MSA output into SW-MSA), a dimension that divides
      still gets a whole window when another does not, and the larger half
      goes first while the crop removes the smaller half first (odd padding
      moves the output by a pixel). See
      :func:`~mmvlsm.models.utils.shifted_windows.upstream_padding`.

    Args:
        channels (int): Feature channels.
        heads (int): Attention heads. Defaults to 8.
        window (tuple[int, ...]): Window, 2D or 3D; the shift is half of
            it. Defaults to (8, 8).
        num_classes (int): Prompt pool size. Defaults to 10.
        num_tokens (int): Prompt tokens per class. Defaults to 16.
        prompted (bool): Prepend the prompts to the windows (False: PUNet's
            non-prompted attention; the pools stay, unused). Defaults to
            True.
        bias_dim (int): Width of the bias embeddings. Defaults to 32.
        use_content_bias (bool): Image-to-image bias. Defaults to True.
        use_prompt_bias (bool): Image-to-prompt bias. Defaults to True.
        adapter (bool): Bottleneck adapters in both blocks. Defaults to
            False.
        upstream (bool): Upstream PUNet's behaviour for every option below
            left at None. Defaults to False.
        kv_from_q (bool, optional): See above. Defaults to False.
        window_layout (str, optional): ``'local'`` or ``'strided'``.
            Defaults to 'local'.
        mask_mode (str, optional): ``'additive'`` (-inf outside the
            region, only when shifted) or ``'multiplicative'``. Defaults
            to 'additive'.
        relabel_padded_content (bool, optional): See above. Defaults to
            False.
        padding (str, optional): ``'symmetric'`` (each sub-block pads to
            whole windows, half before and half after, and crops back) or
            ``'upstream'``. Defaults to 'symmetric'.
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
                 adapter: bool = False,
                 upstream: bool = False,
                 kv_from_q: Optional[bool] = None,
                 window_layout: Optional[str] = None,
                 mask_mode: Optional[str] = None,
                 relabel_padded_content: Optional[bool] = None,
                 padding: Optional[str] = None) -> None:
        super().__init__()
        options = dict(
            kv_from_q=kv_from_q,
            window_layout=window_layout,
            mask_mode=mask_mode,
            relabel_padded_content=relabel_padded_content,
            padding=padding)
        defaults = UPSTREAM_PSWIN if upstream else dict(
            kv_from_q=False,
            window_layout='local',
            mask_mode='additive',
            relabel_padded_content=False,
            padding='symmetric')
        options = {
            k: defaults[k] if v is None else v
            for k, v in options.items()
        }
        for name, value, allowed in (('mask_mode', options['mask_mode'],
                                      MASK_MODES),
                                     ('window_layout',
                                      options['window_layout'], LAYOUTS),
                                     ('padding', options['padding'],
                                      PADDINGS)):
            if value not in allowed:
                raise ValueError(f'{name} must be one of {allowed}, got '
                                 f'{value!r}')
        self.window = tuple(window)
        self.prompted = prompted
        self.window_layout = options['window_layout']
        self.mask_mode = options['mask_mode']
        self.relabel_padded_content = options['relabel_padded_content']
        self.padding = options['padding']
        self.attentions = nn.ModuleList(
            WindowAttentionBlock(channels, heads, adapter,
                                 options['kv_from_q']) for _ in range(2))
        self.pools = nn.ModuleList(
            PromptPool(channels, num_classes, num_tokens) for _ in range(2))
        self.biases = nn.ModuleList(
            HeterogeneousBias(heads, self.window, num_classes, num_tokens,
                              bias_dim, use_content_bias, use_prompt_bias)
            for _ in range(2))

    def forward(self, x: Tensor, classes: Tensor) -> Tensor:
        """Apply both blocks.

        Args:
            x (Tensor): (B, C, *spatial), 2D or 3D as the window.
            classes (Tensor): (B, K) class indices whose prompts each sample
                gets (PUNet: its active foreground class, K = 1).

        Returns:
            Tensor: (B, C, *spatial).
        """
        size = tuple(x.shape[2:])
        if len(size) != len(self.window):
            raise ValueError(f'a {len(self.window)}D PSWin block got a map '
                             f'of size {size}')
        half = tuple(w // 2 for w in self.window)
        window, shift = fit_window(size, self.window, half)
        unshifted = (0, ) * len(size)
        if self.padding == 'upstream':
            padding = upstream_padding(size, window)
            x = pad_upstream(x, padding)
            x = self._attend(x, classes, 0, window, unshifted, padding)
            x = self._attend(x, classes, 1, window, shift, padding)
            return crop(x, [low for low, _ in padding], size)
        for index, step in enumerate((unshifted, shift)):
            padding = padding_for(size, window)
            x = self._attend(
                pad(x, padding), classes, index, window, step, padding)
            x = crop(x, [before for before, _ in padding], size)
        return x

    def _attend(self, x: Tensor, classes: Tensor, index: int, window: Size,
                shift: Size, padding: Padding) -> Tensor:
        """One attention sub-block on a map of whole windows.

        Args:
            x (Tensor): (B, C, *padded), padded by ``padding``.
            classes (Tensor): (B, K) classes.
            index (int): 0 for W-MSA, 1 for SW-MSA.
            window (tuple[int, ...]): The (fitted) window.
            shift (tuple[int, ...]): The shift.
            padding (tuple): The padding ``x`` carries, ``(low, high)`` per
                dimension (for the relabel quirk).
        """
        padded = tuple(x.shape[2:])
        dims = tuple(range(2, 2 + len(padded)))
        if any(shift):
            x = torch.roll(x, tuple(-s for s in shift), dims=dims)
        tokens = window_partition(x, window,
                                  self.window_layout)  # (B, nW, N, C)
        b, num_windows, n, _ = tokens.shape
        bias_module = self.biases[index]
        num_prompts = 0
        if self.prompted:
            prompts = self.pools[index](classes)  # (B, T, C)
            num_prompts = prompts.shape[1]
            tokens = torch.cat(
                [prompts[:, None].expand(-1, num_windows, -1, -1), tokens],
                dim=2)
        bias = self._full_bias(
            bias_module.content_bias(window),
            bias_module.prompt_bias(classes) if self.prompted else None,
            num_prompts, n)
        mask = self._mask(index, padded, window, shift, padding, num_prompts,
                          x.device)
        out = self.attentions[index](
            tokens,
            bias=bias,
            mask=mask[None, :, None] if mask is not None else None,
            mask_mode=self.mask_mode)[:, :, num_prompts:]
        x = window_reverse(out, window, padded, self.window_layout)
        if any(shift):
            x = torch.roll(x, shift, dims=dims)
        return x

    def _mask(self, index: int, padded: Size, window: Size, shift: Size,
              padding: Padding, num_prompts: int,
              device: torch.device) -> Optional[Tensor]:
        """(nW, T + N, T + N) bool mask of the SW-MSA sub-block, or None.

        Additive: True within a region (image tokens always see the
        prompts), only when shifted. Multiplicative (upstream PUNet): True
        where the regions *differ* and from image tokens to prompts, False
        for prompt rows; applied whatever the shift.
        """
        multiplicative = self.mask_mode == 'multiplicative'
        if index == 0 or not (any(shift) or multiplicative):
            return None
        same = shift_window_mask(
            padded, window, shift,
            padding if self.relabel_padded_content else None,
            self.window_layout, device)  # (nW, N, N)
        content = ~same if multiplicative else same
        if not num_prompts:
            return content
        n = content.shape[-1]
        full = torch.full((content.shape[0], num_prompts + n, num_prompts + n),
                          not multiplicative,
                          dtype=torch.bool,
                          device=device)
        full[:, num_prompts:, :num_prompts] = True
        full[:, num_prompts:, num_prompts:] = content
        return full

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
