# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.dist import all_reduce
from mmengine.registry import DefaultScope
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.models.utils import build_norm_layer, resize_pos_embed
from torch import Tensor

from mmvlsm.registry.classification import MODELS
from ..utils import fit_pos_embed, load_vit_state_dict, load_weights_exactly


@MODELS.register_module()
class PromptedViT(VisionTransformer):
    """Vision Transformer with visual prompt tuning (VPT), as in CITE.

    ``prompt_length`` learnable tokens are inserted right after the class
    token, once the patch and position embeddings have gone through
    ``pre_norm`` (CLIP's ``ln_pre`` runs before CITE inserts the prompt):
    the sequence becomes (B, 1 + prompt_length + H*W, C). With
    ``prompt_layers=(0, )`` this is shallow VPT; with more layers (deep VPT)
    the prompt tokens are replaced by that layer's own prompt right before
    each listed layer.

    The projection lives in the backbone (``proj=True``) rather than in the
    neck because mmpretrain's ``ImageClassifier`` takes a single neck, which
    CITE needs for its trainable ``ProjectionNeck``. It is the parameter of
    mmpretrain's ``CLIPProjection`` (``x @ proj``, (C, ``proj_channels``),
    same init), held directly: that neck is importable only with
    mmpretrain's multimodal extras (pycocotools).

    Prompt inits: ``'normal'`` (std 0.02), ``'uniform'`` (+-0.08),
    ``'zero'`` and ``'token'`` (CITE's): zeros, then the mean token of the
    first training batch (over batch and sequence, after ``pre_norm``) is
    added. Unlike CITE, that happens once per training run: the persistent
    buffer ``prompt_initialized`` records it, so a model restored from a
    checkpoint (for testing or resuming) never shifts its prompt again.

    The feature (``feature``) is, from the last layer's tokens:

    - ``'cls'``: the final-normed class token (B, C), optionally projected
      by CLIP's output projection (B, ``proj_channels``);
    - ``'mean'``: the mean of the patch tokens (the class and prompt tokens
      left out) (B, C). With ``final_norm`` every token is normed before the
      mean (timm's average pool, DINOv2's patch tokens); with ``fc_norm``
      (and ``final_norm=False``) the mean is normed instead, as MAE's
      fine-tuned models (``global_pool=True``) and timm's ``fc_norm``
      models were trained;
    - ``'cls_mean'``: both concatenated, (B, 2C), DINOv2's linear probe.

    :attr:`feature_channels` is that width.

    ``pretrained`` fills every ViT weight (and ``proj``, which it must then
    have) from a checkpoint in one of the formats of
    :data:`~mmvlsm.models.utils.VIT_FORMATS` (``'clip'``, ``'mmpretrain'``,
    ``'timm'``, ``'mae'``, ``'dino'``, ``'dinov2'``, ``'hf_vit'``,
    ``'hf_vit_mae'``, ``'hf_dinov2'``). A missing file, an unknown key, a
    missing weight or one of another shape is an error. A position
    embedding of another patch grid (DINOv2's 37 x 37 for 518 px) is
    resized to the model's once, on load, with bicubic interpolation (see
    :func:`~mmvlsm.models.utils.fit_pos_embed`).

    CLIP ViT-B/16 in mmpretrain is ``arch='base', img_size=224,
    patch_size=16, drop_rate=0., layer_cfgs=dict(act_cfg=dict(
    type='QuickGELU')), pre_norm=True`` with ``proj=True``, and
    ``norm_cfg=dict(type='LN', eps=1e-5)`` to match CLIP's LayerNorms
    exactly (mmpretrain's default eps is 1e-6); its weights come from
    OpenAI's ``ViT-B-16.pt`` (``pretrained_format='clip'``). timm, MAE,
    DINO and DINOv2 ViTs are ``pre_norm=False`` with eps 1e-6; DINOv2 adds
    ``patch_size=14`` and LayerScale (``layer_scale_init_value=1e-5``; the
    value is then loaded).

    Args:
        prompt_length (int): Prompt tokens per layer; 0 gives the plain ViT.
            Defaults to 1.
        prompt_layers (Sequence[int]): Layers that get their own prompt; must
            start with 0, where the tokens are inserted. Defaults to (0, ).
        prompt_init (str): ``'normal'``, ``'uniform'``, ``'zero'`` or
            ``'token'``. Defaults to ``'normal'``.
        freeze_vit (bool): Freeze every ViT (and projection) parameter and
            keep those modules in eval mode, so only the prompts train.
            Defaults to True.
        feature (str): ``'cls'``, ``'mean'`` or ``'cls_mean'``, see above.
            Defaults to ``'cls'``.
        fc_norm (bool): Norm the mean of the patch tokens (module ``ln2``,
            built with ``norm_cfg``); needs ``feature='mean'`` and
            ``final_norm=False``. Defaults to False.
        proj (bool): Apply CLIP's projection to the class token; needs
            ``feature='cls'``. Defaults to False.
        proj_channels (int): Output channels of the projection.
            Defaults to 512.
        pretrained (str, optional): The checkpoint: a file, or a Hugging
            Face directory or Hub name for the ``hf_*`` formats. Defaults
            to None (mmpretrain's initialisation).
        pretrained_format (str): Its format, a key of
            :data:`~mmvlsm.models.utils.VIT_FORMATS`. Defaults to
            ``'clip'``.
        norm_cfg (dict): The LayerNorms' config. Defaults to
            ``dict(type='LN', eps=1e-6)`` (mmpretrain's).
        **kwargs: Passed to mmpretrain's ``VisionTransformer``;
            ``out_type`` must be ``'cls_token'``.
    """

    PROMPT_INITS = ('normal', 'uniform', 'zero', 'token')
    FEATURES = ('cls', 'mean', 'cls_mean')

    def __init__(self,
                 prompt_length: int = 1,
                 prompt_layers: Sequence[int] = (0, ),
                 prompt_init: str = 'normal',
                 freeze_vit: bool = True,
                 feature: str = 'cls',
                 fc_norm: bool = False,
                 proj: bool = False,
                 proj_channels: int = 512,
                 pretrained: Optional[str] = None,
                 pretrained_format: str = 'clip',
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 **kwargs):
        # The layers build their activations (e.g. CLIP's 'QuickGELU') by
        # name; those names are registered in mmpretrain's scope, which a
        # model built under default_scope='mmvlsm' would not search.
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            super().__init__(norm_cfg=norm_cfg, **kwargs)
        if self.out_type != 'cls_token':
            # Other outputs would mix the prompt tokens into the patch map.
            raise ValueError('PromptedViT only supports out_type="cls_token", '
                             f'got "{self.out_type}".')
        if prompt_init not in self.PROMPT_INITS:
            raise ValueError(f'Unknown prompt_init "{prompt_init}", choose '
                             f'from {self.PROMPT_INITS}.')
        if feature not in self.FEATURES:
            raise ValueError(f'Unknown feature "{feature}", choose from '
                             f'{self.FEATURES}.')
        if proj and feature != 'cls':
            raise ValueError('proj=True projects the class token: it needs '
                             f'feature="cls", got "{feature}".')
        if fc_norm and (feature != 'mean' or self.final_norm):
            raise ValueError('fc_norm norms the mean of the patch tokens in '
                             'place of the final norm: it needs '
                             'feature="mean" and final_norm=False.')
        prompt_layers = list(prompt_layers)
        if (not prompt_layers or prompt_layers[0] != 0
                or prompt_layers != sorted(set(prompt_layers))
                or prompt_layers[-1] >= self.num_layers):
            raise ValueError(
                'prompt_layers must be increasing, start with 0 and lie in '
                f'[0, {self.num_layers}), got {prompt_layers}.')
        self.prompt_length = prompt_length
        self.prompt_layers = prompt_layers
        self.prompt_init = prompt_init
        self.freeze_vit = freeze_vit
        self.feature = feature
        self.ln2 = build_norm_layer(norm_cfg, self.embed_dims) \
            if fc_norm else None

        self.prompt = nn.Parameter(
            torch.zeros(len(prompt_layers), prompt_length, self.embed_dims))
        if prompt_init == 'normal':
            nn.init.normal_(self.prompt, std=0.02)
        elif prompt_init == 'uniform':
            nn.init.uniform_(self.prompt, -0.08, 0.08)
        # Persistent: a loaded checkpoint carries it, so 'token' is applied
        # once per training run, never again at test time (CITE's Q2).
        self.register_buffer('prompt_initialized',
                             torch.tensor(prompt_init != 'token'))

        if proj:
            self.proj = nn.Parameter(
                self.embed_dims**-0.5 *
                torch.randn(self.embed_dims, proj_channels))
        else:
            self.proj = None

        self.pretrained = pretrained
        if pretrained is not None:
            self.load_pretrained(pretrained, pretrained_format)
        if freeze_vit:
            for name, param in self.named_parameters():
                param.requires_grad = name == 'prompt'

    @property
    def feature_channels(self) -> int:
        """The width of the feature: ``proj_channels`` with ``proj``, twice
        ``embed_dims`` for ``'cls_mean'``, else ``embed_dims``."""
        if self.proj is not None:
            return self.proj.shape[1]
        return self.embed_dims * (2 if self.feature == 'cls_mean' else 1)

    def load_pretrained(self, pretrained: str, fmt: str) -> None:
        """Fill the ViT (and projection) from a checkpoint.

        The prompt keeps its initialisation; :meth:`init_weights` then
        leaves the module alone.

        Args:
            pretrained (str): The checkpoint, see
                :func:`~mmvlsm.models.utils.load_vit_state_dict`.
            fmt (str): Its format.
        """
        state_dict = load_vit_state_dict(pretrained, fmt)
        if self.proj is None:
            state_dict.pop('proj', None)  # CLIP's projection, unused here
        state_dict = fit_pos_embed(state_dict, self.patch_resolution,
                                   self.num_extra_tokens,
                                   self.interpolate_mode)
        load_weights_exactly(
            self,
            state_dict,
            f'"{pretrained}" ({fmt} format)',
            allow_missing=('prompt', 'prompt_initialized'))

    def init_weights(self) -> None:
        """mmpretrain's initialisation, unless pretrained weights were
        loaded: the runner calls it before training, and it would redraw the
        position embedding and the FFNs."""
        if self.pretrained is None:
            super().init_weights()

    def train(self, mode: bool = True) -> 'PromptedViT':
        """Set the mode; a frozen ViT keeps its dropouts in eval mode."""
        super().train(mode)
        if self.freeze_vit:
            for module in self.children():
                module.eval()
        return self

    @torch.no_grad()
    def _init_prompt_from_tokens(self, x: Tensor) -> None:
        """Add the mean token of ``x`` (B, N, C) to every prompt, once."""
        mean = x.mean(dim=(0, 1)).to(self.prompt.dtype)
        # Every rank must start from the same prompt under DDP.
        all_reduce(mean, op='mean')
        self.prompt.add_(mean)
        self.prompt_initialized.fill_(True)

    def _with_prompt(self, x: Tensor, index: int, insert: bool) -> Tensor:
        """Insert (or replace) prompt ``index`` right after the class token.

        Args:
            x (Tensor): Tokens, (B, 1 + N, C) to insert into, or
                (B, 1 + L + N, C) to replace in.
            index (int): Which prompt, an index into ``prompt_layers``.
            insert (bool): Insert new tokens or replace the current ones.

        Returns:
            Tensor: (B, 1 + L + N, C).
        """
        prompt = self.prompt[index].to(x.dtype).expand(x.shape[0], -1, -1)
        rest = x[:, 1:] if insert else x[:, 1 + self.prompt_length:]
        return torch.cat([x[:, :1], prompt, rest], dim=1)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Encode images.

        Args:
            x (Tensor): Images, (B, 3, H, W).

        Returns:
            tuple[Tensor]: One feature per ``out_indices``,
            (B, :attr:`feature_channels`).
        """
        batch = x.shape[0]
        x, patch_resolution = self.patch_embed(x)
        cls_token = self.cls_token.expand(batch, -1, -1)
        x = torch.cat((cls_token, x), dim=1)
        x = x + resize_pos_embed(
            self.pos_embed,
            self.patch_resolution,
            patch_resolution,
            mode=self.interpolate_mode,
            num_extra_tokens=self.num_extra_tokens)
        x = self.drop_after_pos(x)
        x = self.pre_norm(x)

        prompted = self.prompt_length > 0
        if prompted:
            if self.training and not self.prompt_initialized:
                self._init_prompt_from_tokens(x)
            x = self._with_prompt(x, 0, insert=True)

        outs = []
        for i, layer in enumerate(self.layers):
            if prompted and i > 0 and i in self.prompt_layers:
                x = self._with_prompt(
                    x, self.prompt_layers.index(i), insert=False)
            x = layer(x)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._feature(x))
        return tuple(outs)

    def _feature(self, x: Tensor) -> Tensor:
        """The ``feature`` of tokens (B, 1 + L + N, C), see the class."""
        cls = x[:, 0]
        if self.proj is not None:
            return cls @ self.proj.to(cls.dtype)
        if self.feature == 'cls':
            return cls
        mean = x[:, self.num_extra_tokens + self.prompt_length:].mean(dim=1)
        if self.ln2 is not None:
            mean = self.ln2(mean)
        return mean if self.feature == 'mean' else torch.cat([cls, mean], 1)
