# Copyright (c) OpenMMLab. All rights reserved.
from typing import Tuple

import torch
from open_clip.transformer import LayerNorm, QuickGELU, TextTransformer
from torch import Tensor

from mmvlsm.registry import MODELS


@MODELS.register_module()
class CLIPTextTransformer(TextTransformer):
    """CLIP's text transformer, returning every token and the sentence.

    open_clip's :class:`~open_clip.transformer.TextTransformer` with OpenAI
    CLIP's settings (causal mask, quick GELU, projection without bias) and
    its parameter names, so OpenAI CLIP weights load as they are. Where
    open_clip returns only the pooled sentence feature, :meth:`forward`
    returns what CRIS needs: the final-normed features of every token
    (not projected) and the projected feature of the end token.

    Prompts may be shorter than ``context_length``: the causal mask is cut
    to their length, and since no token attends to later ones, padding
    after the end token changes none of the returned features of real
    tokens.

    Args:
        context_length (int): Rows of the position embedding, the most
            tokens a prompt may have. Defaults to 77.
        vocab_size (int): Token embeddings. Defaults to 49408.
        width (int): Width of the transformer. Defaults to 512.
        heads (int): Attention heads. Defaults to 8.
        layers (int): Transformer blocks. Defaults to 12.
        output_dim (int): Width of the projected sentence feature
            (1024 for CLIP RN50, 512 for RN101). Defaults to 1024.
    """

    def __init__(self,
                 context_length: int = 77,
                 vocab_size: int = 49408,
                 width: int = 512,
                 heads: int = 8,
                 layers: int = 12,
                 output_dim: int = 1024):
        super().__init__(
            context_length=context_length,
            vocab_size=vocab_size,
            width=width,
            heads=heads,
            layers=layers,
            output_dim=output_dim,
            act_layer=QuickGELU,
            norm_layer=LayerNorm)

    def forward(self, input_ids: Tensor,
                attention_mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Encode tokenized prompts.

        Args:
            input_ids (Tensor): Token ids of shape (B, L), L at most
                ``context_length``, each prompt ending with its end token.
            attention_mask (Tensor): 1 for tokens (end token included), 0
                for padding, shape (B, L).

        Returns:
            tuple[Tensor, Tensor]: The token features (B, L, width) and the
            sentence features (B, output_dim), the end token's feature
            projected.
        """
        length = input_ids.shape[1]
        if length > self.context_length:
            raise ValueError(f'Prompts of {length} tokens exceed the text '
                             f'encoder context length {self.context_length}.')
        x = self.token_embedding(input_ids)
        x = x + self.positional_embedding[:length].to(x.dtype)
        x = self.transformer(x, attn_mask=self.attn_mask[:length, :length])
        x = self.ln_final(x)
        end = attention_mask.sum(dim=1) - 1
        state = x[torch.arange(x.shape[0], device=x.device), end]
        return x, state @ self.text_projection
