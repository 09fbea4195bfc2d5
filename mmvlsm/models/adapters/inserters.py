# Copyright (c) OpenMMLab. All rights reserved.
"""Where adapters go in a text-prompted segmentor.

Each class here is built from an entry of a segmentor's
``adapt_cfg['adapters']`` (see :func:`mmvlsm.models.adapters.adapt_model`)
and attached to the segmentor once, after its host weights are loaded and
frozen:

- :class:`ResidualAdapters` and :class:`LoRA` go *inside* host modules
  (named by a regular expression), so their parameters live, and are saved,
  under those modules' names;
- :class:`ActivationAdapters`, :class:`TextLayerAdapters` and
  :class:`EmbeddingAdapter` adapt the features a segmentor passes from its
  encoders to its decoder (:meth:`adapt_features`), for segmentors whose
  image features are a list of token activations and whose text feature
  is one embedding per prompt (CLIPSeg, BiomedCLIPSeg).
"""
import re
from typing import Any, List, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmvlsm.registry import MODELS
from .adapter import Adapter


def _matching_modules(model: nn.Module,
                      pattern: str) -> List[Tuple[str, nn.Module]]:
    """The modules whose full name matches ``pattern``, or an error."""
    matches = [(name, module) for name, module in model.named_modules()
               if re.fullmatch(pattern, name)]
    if not matches:
        raise ValueError(f'No module of {type(model).__name__} matches '
                         f'{pattern!r}; module names look like '
                         f'{[n for n, _ in model.named_modules()][1:6]}.')
    return matches


def _output_width(module: nn.Module, name: str) -> int:
    """The width of a module's output: its last ``nn.Linear``'s."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f'Cannot tell the output width of "{name}" '
                         f'({type(module).__name__}): it has no nn.Linear.')
    return linears[-1].out_features


class FeatureAdapters(nn.Module):
    """Base of adapters attached to a segmentor.

    :meth:`attach` runs once; :meth:`adapt_features` on every forward,
    between the encoders and the decoder.
    """

    # Whether the adapter reads the text encoder's layers for each sample,
    # which the segmentor's one encoding per distinct prompt would break.
    reads_text_layers = False

    def attach(self, model: nn.Module) -> None:
        """Insert the adapters into ``model`` (nothing by default)."""

    def adapt_features(self, img_feats: Any, text_feats: Any,
                       attention_mask: Tensor) -> Tuple[Any, Any]:
        """Adapt the encoders' outputs (unchanged by default).

        Args:
            img_feats: The output of the segmentor's ``extract_feat``.
            text_feats: The output of its ``encode_text``.
            attention_mask (Tensor): The prompts' attention mask (B, L).

        Returns:
            tuple: ``img_feats`` and ``text_feats``, adapted.
        """
        return img_feats, text_feats


@MODELS.register_module()
class ResidualAdapters(FeatureAdapters):
    """Adapters on residual branches, before the residual sum.

    Every module whose name matches ``modules`` (e.g. each transformer
    layer's attention and MLP) gets an :class:`Adapter` as a child named
    ``adapter``, applied to its output by a forward hook (to the first
    element when the output is a tuple, as for attention modules). That is
    VLSM-Adapter's dense adapter, ``x = x + A(MSA(LN(x)))``, for any
    transformer whose sub-layers are modules: CLIP (transformers), timm
    ViTs, open_clip and CRIS's decoder.

    Args:
        modules (str): Regular expression matching the full names of the
            modules to adapt, e.g.
            ``r'vision_model\\.encoder\\.layers\\.[0-8]\\.(self_attn|mlp)'``.
        hidden_dims (int): Bottleneck width.
        **adapter_kwargs: Further :class:`Adapter` arguments (``act``,
            ``act_after_up``, ``zero_init``, ``learnable_scale``).
    """

    def __init__(self, modules: str, hidden_dims: int, **adapter_kwargs):
        super().__init__()
        self.pattern = modules
        self.hidden_dims = hidden_dims
        self.adapter_kwargs = adapter_kwargs

    @staticmethod
    def _hook(module: nn.Module, args: tuple, output: Any) -> Any:
        if isinstance(output, tuple):
            return (module.adapter(output[0]), ) + output[1:]
        return module.adapter(output)

    def attach(self, model: nn.Module) -> None:
        for name, module in _matching_modules(model, self.pattern):
            if hasattr(module, 'adapter'):
                raise ValueError(f'"{name}" already has an adapter.')
            module.add_module(
                'adapter',
                Adapter(
                    _output_width(module, name), self.hidden_dims,
                    **self.adapter_kwargs))
            module.register_forward_hook(self._hook)


@MODELS.register_module()
class LoRA(FeatureAdapters):
    """Low-rank adaptation of linear layers, by ``peft``.

    ``peft.inject_adapter_in_model`` replaces every ``nn.Linear`` whose full
    name matches ``target_modules`` with a LoRA layer (the frozen weight
    plus a trainable ``B @ A`` of rank ``r``, ``B`` starting at zero, so the
    model starts as its host).

    Args:
        target_modules (str): Regular expression of the full names of the
            linear layers to adapt, e.g.
            ``r'(vision|text)_model\\.encoder\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj'``.
        r (int): Rank. Defaults to 8.
        lora_alpha (int): Scaling numerator (the update is scaled by
            ``lora_alpha / r``). Defaults to 16.
        lora_dropout (float): Dropout on the LoRA input. Defaults to 0.
    """

    def __init__(self,
                 target_modules: str,
                 r: int = 8,
                 lora_alpha: int = 16,
                 lora_dropout: float = 0.0):
        super().__init__()
        from peft import LoraConfig
        self.lora_config = LoraConfig(
            target_modules=target_modules,
            r=r,
            lora_alpha=lora_alpha,
            lora_dropout=lora_dropout,
            bias='none')

    def attach(self, model: nn.Module) -> None:
        from peft import inject_adapter_in_model
        _matching_modules(model, self.lora_config.target_modules)
        inject_adapter_in_model(self.lora_config, model)


@MODELS.register_module()
class ActivationAdapters(FeatureAdapters):
    """VLSM-Adapter's shallow vision adapters: one :class:`Adapter` on each
    image activation the decoder receives (the encoder's own stream is left
    as it is).

    Args:
        embed_dims (int): Width of the activations (768 for ViT-B).
        num_activations (int): How many activations the decoder gets
            (3 for CLIPSeg and BiomedCLIPSeg).
        hidden_dims (int): Bottleneck width (512 in VLSM-Adapter).
        **adapter_kwargs: Further :class:`Adapter` arguments.
    """

    def __init__(self, embed_dims: int, num_activations: int, hidden_dims: int,
                 **adapter_kwargs):
        super().__init__()
        self.vision = nn.ModuleList(
            Adapter(embed_dims, hidden_dims, **adapter_kwargs)
            for _ in range(num_activations))

    def adapt_features(self, img_feats: Any, text_feats: Any,
                       attention_mask: Tensor) -> Tuple[Any, Any]:
        if not isinstance(img_feats,
                          (list, tuple)) or len(img_feats) != len(self.vision):
            raise ValueError(
                f'ActivationAdapters expects {len(self.vision)} image '
                'activations (a list, as CLIPSeg and BiomedCLIPSeg give), '
                f'got {type(img_feats).__name__}.')
        return [adapter(x)
                for adapter, x in zip(self.vision, img_feats)], text_feats


@MODELS.register_module()
class EmbeddingAdapter(FeatureAdapters):
    """VLSM-Adapter's conditional adapter: an :class:`Adapter` on the
    projected text embedding the decoder is conditioned on.

    Args:
        embed_dims (int): Width of the embedding (512 for CLIPSeg).
        hidden_dims (int): Bottleneck width. Defaults to 256, as
            VLSM-Adapter.
        **adapter_kwargs: Further :class:`Adapter` arguments.
    """

    def __init__(self,
                 embed_dims: int,
                 hidden_dims: int = 256,
                 **adapter_kwargs):
        super().__init__()
        self.cond = Adapter(embed_dims, hidden_dims, **adapter_kwargs)

    def adapt_features(self, img_feats: Any, text_feats: Any,
                       attention_mask: Tensor) -> Tuple[Any, Any]:
        if not isinstance(text_feats, Tensor) or text_feats.ndim != 2:
            raise ValueError('EmbeddingAdapter expects one text embedding '
                             'per prompt, (B, D), as CLIPSeg and '
                             'BiomedCLIPSeg give.')
        return img_feats, self.cond(text_feats)


@MODELS.register_module()
class TextLayerAdapters(FeatureAdapters):
    """VLSM-Adapter's shallow language adapters.

    The outputs of the text layers matching ``layers`` are captured (by
    forward hooks), each one's sentence token (the end token for CLIP, the
    first for BERT-like encoders) goes through its own :class:`Adapter`, and
    the results are added to the text embedding. VLSM-Adapter adds the
    adapter's output (``add='output'``: the token feature itself plus the
    branch); ``add='delta'`` adds the branch only, so that with
    ``zero_init=True`` the model starts as its host.

    Args:
        layers (str): Regular expression of the full names of the text
            layers, e.g. ``r'text_model\\.encoder\\.layers\\.(3|6|9)'``.
        embed_dims (int): Width of the text layers (512 for CLIPSeg); must
            equal the embedding's.
        hidden_dims (int): Bottleneck width (512 in VLSM-Adapter).
        token (str): ``'eot'`` (the last non-padding token) or
            ``'first'``. Defaults to ``'eot'``.
        add (str): ``'output'`` or ``'delta'``. Defaults to ``'output'``.
        **adapter_kwargs: Further :class:`Adapter` arguments.
    """

    reads_text_layers = True

    def __init__(self,
                 layers: str,
                 embed_dims: int,
                 hidden_dims: int,
                 token: str = 'eot',
                 add: str = 'output',
                 **adapter_kwargs):
        super().__init__()
        if token not in ('eot', 'first') or add not in ('output', 'delta'):
            raise ValueError("token must be 'eot' or 'first' and add "
                             f"'output' or 'delta', got {token!r}, {add!r}.")
        self.pattern = layers
        self.embed_dims = embed_dims
        self.hidden_dims = hidden_dims
        self.token = token
        self.add = add
        self.adapter_kwargs = adapter_kwargs
        self.text = nn.ModuleList()
        self._captured: List[Optional[Tensor]] = []

    def attach(self, model: nn.Module) -> None:
        for index, (_, module) in enumerate(
                _matching_modules(model, self.pattern)):
            self.text.append(
                Adapter(self.embed_dims, self.hidden_dims,
                        **self.adapter_kwargs))
            self._captured.append(None)
            module.register_forward_hook(self._capture_hook(index))

    def _capture_hook(self, index: int):

        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            self._captured[index] = output[0] if isinstance(output,
                                                            tuple) else output

        return hook

    def adapt_features(self, img_feats: Any, text_feats: Any,
                       attention_mask: Tensor) -> Tuple[Any, Any]:
        if any(x is None for x in self._captured):
            raise RuntimeError('TextLayerAdapters found no text layer '
                               'output: was encode_text run?')
        if self.token == 'eot':
            index = attention_mask.sum(dim=1) - 1
        else:
            index = torch.zeros_like(attention_mask[:, 0])
        for adapter, hidden in zip(self.text, self._captured):
            token = hidden[torch.arange(hidden.shape[0], device=hidden.device),
                           index]
            text_feats = text_feats + (
                adapter(token)
                if self.add == 'output' else adapter.delta(token))
        self._captured = [None] * len(self._captured)
        return img_feats, text_feats
