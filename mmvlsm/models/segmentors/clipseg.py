# Copyright (c) OpenMMLab. All rights reserved.
from contextlib import nullcontext
from typing import Any, List, Optional, Tuple

import torch
from mmseg.utils import OptConfigType, OptMultiConfig
from torch import Tensor
from transformers import CLIPSegConfig, CLIPSegForImageSegmentation

from mmvlsm.registry import MODELS
from ..decode_heads import reset_clipseg_decoder_io_layers
from ..utils import TokenizerConfig, hf_from_pretrained
from ..utils.activations import replace_quick_gelu
from .base import DEFAULT_LOSSES, LossConfigs, TextPromptedSegmentor


@MODELS.register_module()
class CLIPSeg(TextPromptedSegmentor):
    """CLIPSeg: image segmentation with text prompts.

    `Image Segmentation Using Text and Image Prompts
    <https://arxiv.org/abs/2112.10003>`_, built from the modules of
    transformers' ``CLIPSegForImageSegmentation``:

    1. the CLIP ViT encodes the image; the hidden states after the blocks
       in ``config.extract_layers`` are the decoder's activations;
    2. the CLIP text transformer encodes the prompt; its pooled (end token)
       output, projected by ``text_projection``, is the conditional
       embedding;
    3. the decoder mixes both (FiLM) and upsamples to logits.

    transformers' ``forward`` runs steps 1 and 2 under ``torch.no_grad()``,
    so fine-tuning through it silently trains only the decoder (medvlsm and
    VLSM-Adapter did). Calling the modules directly here lets gradients
    reach the encoders; ``freeze_vision=True, freeze_text=True`` reproduces
    the decoder-only fine-tuning. CLIP's image projection and logit scale
    are not kept, since CLIPSeg does not use them. The ViT stops after the
    last extracted block: the blocks after it and its final layer norm
    (``post_layernorm``) compute nothing that reaches the decoder, so they
    are never run (transformers runs them) and stay frozen, and adapters
    or LoRA placed in them are refused. They stay in the model, so that
    checkpoints keep every weight of the Hub model.

    Quick GELU activations run in place where nothing needs gradients
    (:class:`~mmvlsm.models.utils.activations.QuickGELU`: same values).

    A model built from ``config`` gets torch's default init in the
    decoder's FiLM, reduce and upsampling layers instead of transformers'
    (std 1.0, which makes the initial logits explode).

    The input must be square with a side divisible by the patch size; the
    position embeddings are interpolated to it. The logits have the input
    size when the decoder upsamples by the patch size, i.e. always with
    ``use_complex_transposed_convolution=False`` and with patch size 16
    otherwise.

    Args:
        pretrained (str, optional): A Hub name such as
            ``'CIDAS/clipseg-rd64-refined'`` (read from the HF cache,
            downloaded unless ``HF_HUB_OFFLINE=1``) or a local directory
            written by ``save_pretrained``. Defaults to None.
        config (dict, optional): Keyword arguments of ``CLIPSegConfig``
            (``text_config`` and ``vision_config`` as dicts) for a randomly
            initialized model. Exactly one of ``pretrained`` and ``config``
            must be given. Defaults to None.
        tokenizer (str | dict | PreTrainedTokenizerBase, optional): The
            tokenizer, see :func:`mmvlsm.models.utils.build_tokenizer`,
            e.g. ``dict(type='openai_bpe')`` for CLIP's tokenizer without
            any download. Defaults to None, i.e. the one of ``pretrained``.
        freeze_vision (bool): Freeze the vision encoder and run it under
            ``torch.no_grad()``. Defaults to False.
        freeze_text (bool): Freeze the text encoder and text projection
            and run them under ``torch.no_grad()``. Defaults to False.
        freeze_decoder (bool): Freeze the decoder. It still runs with
            autograd so that trainable encoders get gradients. Defaults to
            False.
        attn_implementation (str): transformers' attention kernel for the
            encoders and the decoder: ``'sdpa'`` (PyTorch's
            ``scaled_dot_product_attention``, fused) or ``'eager'``
            (explicit matmul and softmax, as upstream ran). Both give the
            same logits within fp32 tolerance (tested). Defaults to
            ``'sdpa'``.
        context_length (int): Maximum number of prompt tokens. Defaults to
            77, CLIP's context length.
        losses (dict | Sequence[dict]): Configs of the losses. Defaults to
            soft Dice plus BCE.
        adapt_cfg (dict, optional): Adapters and what trains, see
            :func:`mmvlsm.models.adapters.adapt_model`. Defaults to None.
        train_cfg (dict, optional): Training config. Defaults to None.
        test_cfg (dict, optional): Testing config, e.g.
            ``dict(threshold=0.5)``. Defaults to None.
        data_preprocessor (dict, optional): Config of the data
            preprocessor. Defaults to None.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None.
    """

    def __init__(self,
                 pretrained: Optional[str] = None,
                 config: Optional[dict] = None,
                 tokenizer: Optional[TokenizerConfig] = None,
                 freeze_vision: bool = False,
                 freeze_text: bool = False,
                 freeze_decoder: bool = False,
                 attn_implementation: str = 'sdpa',
                 context_length: int = 77,
                 losses: LossConfigs = DEFAULT_LOSSES,
                 adapt_cfg: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None):
        if (pretrained is None) == (config is None):
            raise ValueError('Give exactly one of `pretrained` (weights to '
                             'load) and `config` (a random initialization).')
        if tokenizer is None:
            if pretrained is None:
                raise ValueError(
                    'A model built from `config` needs a `tokenizer`, e.g. '
                    "tokenizer=dict(type='openai_bpe').")
            tokenizer = pretrained
        super().__init__(
            tokenizer=tokenizer,
            context_length=context_length,
            losses=losses,
            adapt_cfg=adapt_cfg,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)

        if pretrained is not None:
            clipseg = hf_from_pretrained(
                CLIPSegForImageSegmentation,
                pretrained,
                attn_implementation=attn_implementation)
        else:
            clipseg = CLIPSegForImageSegmentation(
                CLIPSegConfig(
                    **config, attn_implementation=attn_implementation))
            reset_clipseg_decoder_io_layers(clipseg.decoder)
        self.hf_config: CLIPSegConfig = clipseg.config
        replace_quick_gelu(clipseg)
        self.vision_model = clipseg.clip.vision_model
        self.text_model = clipseg.clip.text_model
        self.text_projection = clipseg.clip.text_projection
        self.decoder = clipseg.decoder

        self.check_vocab_size(self.hf_config.text_config.vocab_size)
        self.extract_layers = list(self.hf_config.extract_layers)
        num_blocks = len(self.vision_model.encoder.layers)
        if not all(0 <= i < num_blocks for i in self.extract_layers):
            raise ValueError(
                f'extract_layers {self.extract_layers} must index the '
                f'{num_blocks} ViT blocks.')
        last_used = max(self.extract_layers)
        self.set_unused_modules([
            f'vision_model.encoder.layers.{i}'
            for i in range(last_used + 1, num_blocks)
        ] + ['vision_model.post_layernorm'])
        self.freeze_parts(self.vision_model,
                          (self.text_model, self.text_projection),
                          self.decoder, freeze_vision, freeze_text,
                          freeze_decoder)

    @classmethod
    def prompt_tokenizer_cfg(cls, model_cfg: dict) -> Tuple[Any, int]:
        """``tokenizer``, or the one of ``pretrained``, and
        ``context_length``."""
        tokenizer, context_length = super().prompt_tokenizer_cfg(model_cfg)
        if tokenizer is None:
            tokenizer = model_cfg.get('pretrained')
        return tokenizer, context_length

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Encode images with the CLIP ViT.

        Args:
            inputs (Tensor): Normalized images of shape (B, 3, S, S), with S
                divisible by the patch size.

        Returns:
            list[Tensor]: The hidden states after the blocks in
            ``extract_layers``, each of shape (B, 1 + (S / patch)^2, C).
        """
        height, width = inputs.shape[-2:]
        patch_size = self.hf_config.vision_config.patch_size
        if height != width or height % patch_size:
            raise ValueError('CLIPSeg needs square inputs with a side '
                             f'divisible by {patch_size}, got {height}x'
                             f'{width}.')
        vision = self.vision_model
        outputs = {}
        with torch.no_grad() if self.freeze_vision else nullcontext():
            # CLIPSegVisionModel.forward up to the last block the decoder
            # reads: the same modules, called the same way.
            hidden = vision.pre_layrnorm(
                vision.embeddings(inputs, interpolate_pos_encoding=True))
            for index in range(max(self.extract_layers) + 1):
                hidden = vision.encoder.layers[index](hidden, None)
                outputs[index] = hidden
        return [outputs[i] for i in self.extract_layers]

    def encode_text(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Compute the conditional embeddings of the prompts.

        Args:
            input_ids (Tensor): Token ids of shape (B, L).
            attention_mask (Tensor): 1 for tokens, 0 for padding, (B, L).

        Returns:
            Tensor: The projected end-token features, (B, projection_dim).
        """
        with torch.no_grad() if self.freeze_text else nullcontext():
            pooled = self.text_model(
                input_ids=input_ids,
                attention_mask=attention_mask).pooler_output
            return self.text_projection(pooled)

    def decode(self, img_feats: List[Tensor], text_feats: Tensor) -> Tensor:
        """Decode the activations conditioned on the prompts.

        Args:
            img_feats (list[Tensor]): The output of :meth:`extract_feat`.
            text_feats (Tensor): The output of :meth:`encode_text`.

        Returns:
            Tensor: Logits of shape (B, 1, H, W).
        """
        return self.decoder(img_feats, text_feats).logits.unsqueeze(1)
