# Copyright (c) OpenMMLab. All rights reserved.
from contextlib import nullcontext
from typing import Any, List, Optional, Sequence, Tuple

import torch
from mmseg.utils import OptConfigType, OptMultiConfig
from torch import Tensor

from mmvlsm.registry import MODELS
from ..decode_heads import build_clipseg_decoder
from ..utils import TokenizerConfig, open_clip_from_pretrained, open_clip_name
from .base import DEFAULT_LOSSES, LossConfigs, TextPromptedSegmentor

# CIDAS/clipseg-rd64-refined's decoder: reduce dim 64, 4 heads, FFN 2048,
# FiLM before the first layer, two transposed convolutions upsampling by 16.
RD64_REFINED_DECODER = dict(
    reduce_dim=64,
    decoder_num_attention_heads=4,
    decoder_intermediate_size=2048,
    conditional_layer=0,
    use_complex_transposed_convolution=True)


@MODELS.register_module()
class BiomedCLIPSeg(TextPromptedSegmentor):
    """BiomedCLIPSeg and BiomedCLIPSeg-D: CLIPSeg's decoder on BiomedCLIP.

    From medvlsm (`Exploring Transfer Learning in Medical Image
    Segmentation using Vision-Language Models
    <https://arxiv.org/abs/2308.07706>`_). BiomedCLIP's encoders, built by
    open_clip, feed transformers' CLIPSeg decoder (the same module
    :class:`CLIPSeg` uses):

    1. the timm ViT (``visual.trunk``) encodes the image; the outputs of
       blocks ``extract_layers`` (class token included) are the decoder's
       activations. medvlsm took blocks 4, 7 and 10 (0-based; 5, 8 and 11
       counting from 1), one block later than CLIPSeg's 3, 6 and 9, because
       its list of hidden states had no embedding entry;
    2. the Hugging Face text tower (PubMedBERT) encodes the prompt; its
       pooled output, through the tower's projection, is the conditional
       embedding (512-d for BiomedCLIP);
    3. the decoder upsamples the 14x14 grid to 224x224 logits.

    With ``decoder_pretrained`` (e.g. ``'CIDAS/clipseg-rd64-refined'``)
    the decoder's weights are CLIPSeg's: that is BiomedCLIPSeg-D.
    Otherwise a new decoder is built from ``decoder`` with torch's default
    init, as medvlsm's BiomedCLIPSeg.

    medvlsm ran the image encoder under ``torch.inference_mode()``, so it
    could never train (and fp32 training could fail on saving inference
    tensors for backward). Here each part trains or is frozen by
    ``freeze_*``. The ViT blocks after the last extracted one, its final
    norms and head, BiomedCLIP's image projection and logit scale are not
    used: the projection and logit scale are dropped; the rest is never
    run (the ViT stops after the last extracted block), stays frozen, and
    adapters or LoRA placed in it are refused.

    The input must have the ViT's image size (224 for BiomedCLIP).

    Args:
        pretrained (str): The open_clip model: ``'hf-hub:ORG/REPO'``, e.g.
            ``'hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224'``
            (from the HF cache, downloaded unless ``HF_HUB_OFFLINE=1``),
            ``'local-dir:DIR'`` or a directory; see
            :mod:`mmvlsm.models.utils.open_clip_loading`. Its vision tower
            must be a timm ViT with a class token and its text tower a
            Hugging Face model.
        decoder (dict, optional): The decoder's own ``CLIPSegConfig``
            arguments (reduce dim, heads, FFN size, conditional layer,
            transposed convolution); the encoders' sizes are filled in.
            Defaults to None, i.e. rd64-refined's when ``decoder_pretrained``
            is None.
        decoder_pretrained (str, optional): A CLIPSeg Hub name or local
            directory whose decoder weights are copied (BiomedCLIPSeg-D).
            Defaults to None.
        extract_layers (Sequence[int]): 0-based indices of the ViT blocks
            whose outputs feed the decoder. Defaults to (4, 7, 10).
        tokenizer (str | dict | PreTrainedTokenizerBase, optional): The
            tokenizer. Defaults to None, i.e. ``pretrained``'s.
        freeze_vision (bool): Freeze the ViT and run it under
            ``torch.no_grad()``. Defaults to False.
        freeze_text (bool): Freeze the text tower (projection included) and
            run it under ``torch.no_grad()``. Defaults to False.
        freeze_decoder (bool): Freeze the decoder; gradients still flow
            through it to trainable encoders. Defaults to False.
        attn_implementation (str): The decoder's attention kernel,
            ``'sdpa'`` or ``'eager'``. Defaults to ``'sdpa'``.
        context_length (int): Maximum number of prompt tokens. Defaults to
            256, BiomedCLIP's context length.
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
                 pretrained: str,
                 decoder: Optional[dict] = None,
                 decoder_pretrained: Optional[str] = None,
                 extract_layers: Sequence[int] = (4, 7, 10),
                 tokenizer: Optional[TokenizerConfig] = None,
                 freeze_vision: bool = False,
                 freeze_text: bool = False,
                 freeze_decoder: bool = False,
                 attn_implementation: str = 'sdpa',
                 context_length: int = 256,
                 losses: LossConfigs = DEFAULT_LOSSES,
                 adapt_cfg: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None):
        super().__init__(
            tokenizer=self.prompt_tokenizer_cfg(
                dict(pretrained=pretrained, tokenizer=tokenizer))[0],
            context_length=context_length,
            losses=losses,
            adapt_cfg=adapt_cfg,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        clip = open_clip_from_pretrained(pretrained)
        trunk = getattr(clip.visual, 'trunk', None)
        if (not hasattr(trunk, 'forward_intermediates')
                or getattr(trunk, 'cls_token', None) is None):
            raise ValueError(
                f'"{pretrained}" has no timm ViT with a class token as its '
                'vision tower, which BiomedCLIPSeg needs.')
        if not hasattr(clip.text, 'transformer'):
            raise ValueError(f'"{pretrained}" has no Hugging Face text tower '
                             '(open_clip HFTextEncoder), which BiomedCLIPSeg '
                             'needs.')
        self.vision_model = trunk
        self.text_model = clip.text
        num_blocks = len(trunk.blocks)
        self.extract_layers = list(extract_layers)
        if (not self.extract_layers
                or self.extract_layers != sorted(set(self.extract_layers))
                or self.extract_layers[0] < 0
                or self.extract_layers[-1] >= num_blocks):
            raise ValueError(
                'extract_layers must be increasing indices of ViT blocks in '
                f'[0, {num_blocks}), got {self.extract_layers}.')
        if decoder is None and decoder_pretrained is None:
            decoder = RD64_REFINED_DECODER
        self.decoder = build_clipseg_decoder(
            vision_width=trunk.embed_dim,
            patch_size=trunk.patch_embed.patch_size[0],
            embed_dim=clip.text.output_dim,
            num_activations=len(self.extract_layers),
            config=decoder,
            pretrained=decoder_pretrained,
            attn_implementation=attn_implementation)

        self.check_vocab_size(clip.text.vocab_size)
        # Nothing after the last extracted block reaches the decoder, and
        # forward_intermediates(stop_early=True) does not run it.
        unused = [
            f'blocks.{i}'
            for i in range(self.extract_layers[-1] + 1, num_blocks)
        ]
        for name in ('norm', 'fc_norm', 'attn_pool', 'head'):
            module = getattr(trunk, name, None)
            if module is not None and list(module.parameters()):
                unused.append(name)
        self.set_unused_modules([f'vision_model.{name}' for name in unused])
        self.freeze_parts(self.vision_model, (self.text_model, ), self.decoder,
                          freeze_vision, freeze_text, freeze_decoder)

    @classmethod
    def prompt_tokenizer_cfg(cls, model_cfg: dict) -> Tuple[Any, int]:
        """``tokenizer``, or the open_clip tokenizer of ``pretrained``, and
        ``context_length``."""
        tokenizer, context_length = super().prompt_tokenizer_cfg(model_cfg)
        if tokenizer is None:
            tokenizer = dict(
                type='open_clip', name=open_clip_name(model_cfg['pretrained']))
        return tokenizer, context_length

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Encode images with the ViT.

        Args:
            inputs (Tensor): Normalized images of shape (B, 3, S, S), S the
                ViT's image size.

        Returns:
            list[Tensor]: The outputs of the blocks in ``extract_layers``,
            each of shape (B, 1 + (S / patch)^2, C), class token first.
        """
        expected = tuple(self.vision_model.patch_embed.img_size)
        if tuple(inputs.shape[-2:]) != expected:
            raise ValueError(
                f'BiomedCLIPSeg needs {expected[0]}x{expected[1]} inputs (its '
                f'ViT was trained at that size), got {inputs.shape[-2]}x'
                f'{inputs.shape[-1]}: resize images to it in the pipeline.')
        with torch.no_grad() if self.freeze_vision else nullcontext():
            features = self.vision_model.forward_intermediates(
                inputs,
                indices=self.extract_layers,
                return_prefix_tokens=True,
                stop_early=True,
                output_fmt='NLC',
                intermediates_only=True)
        return [
            torch.cat([prefix, tokens], dim=1) for tokens, prefix in features
        ]

    def encode_text(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Compute the conditional embeddings of the prompts.

        The text tower's modules are called one by one (rather than its
        ``forward``, which derives the mask from the pad id) so that the
        tokenizer's attention mask is the one used.

        Args:
            input_ids (Tensor): Token ids of shape (B, L).
            attention_mask (Tensor): 1 for tokens, 0 for padding, (B, L).

        Returns:
            Tensor: The projected pooled features, (B, embed_dim).
        """
        with torch.no_grad() if self.freeze_text else nullcontext():
            hidden = self.text_model.transformer(
                input_ids=input_ids, attention_mask=attention_mask)
            pooled = self.text_model.pooler(hidden, attention_mask)
            return self.text_model.proj(pooled)

    def decode(self, img_feats: List[Tensor], text_feats: Tensor) -> Tensor:
        """Decode the activations conditioned on the prompts.

        Args:
            img_feats (list[Tensor]): The output of :meth:`extract_feat`.
            text_feats (Tensor): The output of :meth:`encode_text`.

        Returns:
            Tensor: Logits of shape (B, 1, S, S).
        """
        return self.decoder(img_feats, text_feats).logits.unsqueeze(1)
