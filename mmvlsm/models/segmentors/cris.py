# Copyright (c) OpenMMLab. All rights reserved.
from contextlib import nullcontext
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

from mmvlsm.registry import MODELS
from ..utils import (CLIP_TEXT_KEYS, TokenizerConfig,
                     load_openai_clip_state_dict, load_weights_exactly)
from ..utils.frame_geometry import (FrameMatrix, OptSize, Size, centred_map,
                                    sample_at_original_pixels)
from .base import DEFAULT_LOSSES, LossConfigs, TextPromptedSegmentor

# OpenAI CLIP weights CRIS does not use: the contrastive temperature.
UNUSED_CLIP_KEYS = ('logit_scale', )
# test_cfg['postprocess']: mmvlsm's (bilinear on logits) or official CRIS's.
POSTPROCESSES = ('mmvlsm', 'official')
# Probabilities are clamped to [eps, 1 - eps] to give logits back.
PROBABILITY_EPS = 1e-6


def official_unletterbox(logits: Tensor, matrix: FrameMatrix, frame: Size,
                         size: Size) -> Tensor:
    """Official CRIS's post-processing: probabilities on the original image.

    As official CRIS's ``inference``/``validate`` do, but batched and on
    the logits' device: the sigmoid of ``logits`` is upsampled (bicubic,
    ``align_corners=True``) to the input frame, then each original pixel
    samples it (bicubic, zeros outside the frame) where ``matrix`` put it:
    official CRIS's ``cv2.warpAffine(pred, mat_inv, (w, h),
    flags=cv2.INTER_CUBIC, borderValue=0.)``. The two agree to ~3e-5 with
    OpenCV 5; OpenCV 4 (official CRIS's) rounds the coordinates to 1/32
    pixel, and then they differ by up to ~7e-3 inside the image and ~2e-2
    on its edges.

    Args:
        logits (Tensor): Logits over the input frame, (B, 1, h, w).
        matrix (tuple): The 2x3 map from original to frame pixels.
        frame (tuple[int, int]): The input's (height, width).
        size (tuple[int, int]): The original (height, width).

    Returns:
        Tensor: Probabilities (float32) of shape (B, 1, *size); bicubic
        sampling may take them a little outside [0, 1].
    """
    probs = F.interpolate(
        logits.float().sigmoid(),
        size=frame,
        mode='bicubic',
        align_corners=True)
    return sample_at_original_pixels(probs, matrix, frame, size, 'bicubic',
                                     'zeros', True)


@MODELS.register_module()
class CRIS(TextPromptedSegmentor):
    """CRIS: CLIP-driven referring image segmentation.

    `CRIS: CLIP-Driven Referring Image Segmentation
    <https://arxiv.org/abs/2111.15174>`_ (CVPR 2022), the strongest model
    of the medvlsm study. In mmseg's terms:

    1. ``backbone`` (:class:`~mmvlsm.models.backbones.CRISResNet`, CLIP's
       ResNet with a dense attention pool) gives C3, C4 and C5;
    2. ``text_encoder`` (:class:`~mmvlsm.models.text_encoders.
       CLIPTextTransformer`) gives every word's feature and the projected
       sentence feature;
    3. ``neck`` (:class:`~mmvlsm.models.necks.CRISFPN`) fuses C3-C5 with
       the sentence into visual queries at 1/16;
    4. ``decode_head`` (:class:`~mmvlsm.models.decode_heads.CRISHead`)
       lets the queries attend to the words (padding masked by the
       tokenizer's attention mask) and projects them, with a 3x3 kernel
       made from the sentence, into logits at 1/4 of the input (104x104 for
       416x416 inputs).

    Losses and inference follow :class:`TextPromptedSegmentor`: CRIS's
    own BCE on the 1/4-resolution logits is ``losses=dict(type=
    'SigmoidBCELoss'), train_cfg=dict(loss_size='logits')``; medvlsm's
    Dice + BCE at the input resolution is the default. Predictions are
    thresholded at probability 0.35 unless ``test_cfg`` says otherwise.
    ``test_cfg=dict(postprocess='official')`` maps predictions back as
    official CRIS does (see :func:`official_unletterbox`) instead: the
    probabilities, not the logits, are resampled (bicubic to the input,
    then bicubic onto the original image, following the map of the
    pipeline's letterbox or plain resize) and thresholded; ``seg_logits``
    then holds the logits of the probabilities clamped to [1e-6, 1 -
    1e-6].

    Checkpoints of the official code load after
    ``tools/model_converters/cris2mmvlsm.py``.

    Args:
        clip_pretrained (str, optional): An OpenAI CLIP checkpoint
            (``RN50.pt`` or ``RN101.pt``, the TorchScript archives OpenAI
            publishes) that initialises ``backbone`` and ``text_encoder``.
            None starts them at random: a model that loads a full CRIS
            checkpoint afterwards (``load_from``), or one trained from
            scratch. There is no default, so a missing path is never
            silently a random model.
        backbone (dict): Config of the image backbone. Defaults to CLIP
            RN50's.
        text_encoder (dict): Config of the text encoder. Defaults to CLIP
            RN50's.
        neck (dict): Config of the FPN. Defaults to RN50's.
        decode_head (dict): Config of the decoder and projector. Defaults
            to RN50's.
        tokenizer (str | dict | PreTrainedTokenizerBase): The tokenizer.
            Defaults to OpenAI CLIP's BPE tokenizer, built offline.
        context_length (int): Maximum number of prompt tokens ("word
            length"): 17 in CRIS, 77 in medvlsm. Defaults to 17.
        freeze_vision (bool): Freeze the backbone (batch norms included)
            and run it under ``torch.no_grad()``. Defaults to False.
        freeze_text (bool): Freeze the text encoder and run it under
            ``torch.no_grad()``. Defaults to False.
        losses (dict | Sequence[dict]): Configs of the losses. Defaults to
            soft Dice plus BCE.
        adapt_cfg (dict, optional): Adapters and what trains, see
            :func:`mmvlsm.models.adapters.adapt_model`. Defaults to None.
        train_cfg (dict, optional): Training config, see
            :class:`TextPromptedSegmentor`. Defaults to None.
        test_cfg (dict, optional): Testing config: ``threshold`` and
            ``postprocess``, ``'mmvlsm'`` (the default) or ``'official'``.
            Defaults to None, i.e. ``dict(threshold=0.35)``.
        data_preprocessor (dict, optional): Config of the data
            preprocessor. Defaults to None.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None.
    """

    def __init__(self,
                 clip_pretrained: Optional[str],
                 backbone: ConfigType = dict(type='CRISResNet'),
                 text_encoder: ConfigType = dict(type='CLIPTextTransformer'),
                 neck: ConfigType = dict(type='CRISFPN'),
                 decode_head: ConfigType = dict(type='CRISHead'),
                 tokenizer: TokenizerConfig = dict(type='openai_bpe'),
                 context_length: int = 17,
                 freeze_vision: bool = False,
                 freeze_text: bool = False,
                 losses: LossConfigs = DEFAULT_LOSSES,
                 adapt_cfg: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None):
        super().__init__(
            tokenizer=tokenizer,
            context_length=context_length,
            losses=losses,
            adapt_cfg=adapt_cfg,
            train_cfg=train_cfg,
            test_cfg=test_cfg if test_cfg is not None else dict(
                threshold=0.35),
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        postprocess = self.test_cfg.get('postprocess', 'mmvlsm')
        if postprocess not in POSTPROCESSES:
            raise ValueError(f'test_cfg.postprocess must be one of '
                             f'{POSTPROCESSES}, got {postprocess!r}.')
        self.backbone = MODELS.build(backbone)
        self.text_encoder = MODELS.build(text_encoder)
        self.neck = MODELS.build(neck)
        self.decode_head = MODELS.build(decode_head)
        if context_length > self.text_encoder.context_length:
            raise ValueError(
                f'context_length {context_length} exceeds the text '
                f'encoder\'s {self.text_encoder.context_length} positions.')
        self.check_vocab_size(self.text_encoder.vocab_size)
        if clip_pretrained is not None:
            self.load_clip(clip_pretrained)
        self.freeze_parts(self.backbone, (self.text_encoder, ),
                          self.decode_head, freeze_vision, freeze_text, False)

    def load_clip(self, path: str) -> None:
        """Initialise the backbone and text encoder from OpenAI CLIP.

        Every CLIP weight must fit (``logit_scale`` is skipped); only the
        attention pool's ``connect`` branch, which CRIS adds, keeps its
        initialisation.

        Args:
            path (str): An OpenAI CLIP checkpoint, see
                :func:`~mmvlsm.models.utils.load_openai_clip_state_dict`.
        """
        state_dict = load_openai_clip_state_dict(path)
        visual = {
            key[len('visual.'):]: value
            for key, value in state_dict.items() if key.startswith('visual.')
        }
        text = {
            key: value
            for key, value in state_dict.items()
            if key.startswith(CLIP_TEXT_KEYS)
        }
        unknown = sorted(
            set(state_dict) - {f'visual.{key}'
                               for key in visual} - set(text) -
            set(UNUSED_CLIP_KEYS))
        if unknown:
            raise ValueError(f'"{path}" has weights a CLIP ResNet model does '
                             f'not have: {unknown[:10]}.')
        load_weights_exactly(
            self.backbone,
            visual,
            f'"{path}" (visual)',
            allow_missing=('attnpool.connect.', ))
        load_weights_exactly(self.text_encoder, text, f'"{path}" (text)')

    def train(self, mode: bool = True) -> 'CRIS':
        """Set the training mode; a frozen backbone stays in eval mode, so
        its batch-norm statistics stay as loaded."""
        super().train(mode)
        if self.freeze_vision:
            self.backbone.eval()
        return self

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Compute C3, C4 and C5.

        Args:
            inputs (Tensor): Normalized images of shape (B, 3, H, W), H and
                W multiples of 32 (416 in CRIS and medvlsm).

        Returns:
            tuple[Tensor]: C3 (1/8), C4 (1/16) and C5 (1/32).
        """
        height, width = inputs.shape[-2:]
        if height % 32 or width % 32:
            raise ValueError(
                f'CRIS needs input sides divisible by 32, got {height}x'
                f'{width}: resize images to e.g. 416x416 in the pipeline.')
        with torch.no_grad() if self.freeze_vision else nullcontext():
            return self.backbone(inputs)

    def encode_text(self, input_ids: Tensor,
                    attention_mask: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Encode the prompts.

        Args:
            input_ids (Tensor): Token ids of shape (B, L).
            attention_mask (Tensor): 1 for tokens, 0 for padding, (B, L).

        Returns:
            tuple[Tensor]: Word features (B, L, C), sentence features
            (B, D) and the padding mask (B, L), True at padding.
        """
        with torch.no_grad() if self.freeze_text else nullcontext():
            words, state = self.text_encoder(input_ids, attention_mask)
        return words, state, attention_mask == 0

    def decode(self, img_feats: Tuple[Tensor, Tensor, Tensor],
               text_feats: Tuple[Tensor, Tensor, Tensor]) -> Tensor:
        """Fuse, decode and project.

        Args:
            img_feats (tuple[Tensor]): The output of :meth:`extract_feat`.
            text_feats (tuple[Tensor]): The output of :meth:`encode_text`.

        Returns:
            Tensor: Logits of shape (B, 1, H/4, W/4).
        """
        words, state, pad_mask = text_feats
        queries = self.neck(img_feats, state)
        return self.decode_head(queries, words, pad_mask, state)

    def resize_to_original(self, logits: Tensor, size: Size, frame: OptSize,
                           matrix: Optional[FrameMatrix],
                           threshold: float) -> Tuple[Tensor, Tensor]:
        """Resize a group's logits to their original size and threshold.

        mmvlsm's way (see :class:`TextPromptedSegmentor`) or, with
        ``test_cfg['postprocess'] == 'official'``, official CRIS's: a pixel
        is foreground where the probability :func:`official_unletterbox`
        gives exceeds ``threshold``. Plain-resized inputs are mapped back
        by the resize's own map (:func:`centred_map` of the whole frame).

        Args:
            logits (Tensor): Logits over the input frame, (B, 1, h, w).
            size (tuple[int, int]): The original (height, width).
            frame (tuple[int, int], optional): The input's (height, width).
            matrix (tuple, optional): The letterbox's map, None for a
                plain resize.
            threshold (float): The probability threshold.

        Returns:
            tuple[Tensor, Tensor]: Logits (B, 1, *size) and masks (int64
            in {0, 1}) of the same shape.
        """
        if self.test_cfg.get('postprocess', 'mmvlsm') != 'official':
            return super().resize_to_original(logits, size, frame, matrix,
                                              threshold)
        if frame is None:
            raise ValueError('test_cfg.postprocess="official" needs the '
                             'input size, img_shape, in the metainfo.')
        if matrix is None:
            matrix = centred_map(size, frame, frame)
        probs = official_unletterbox(logits, matrix, frame, size)
        preds = (probs > threshold).long()
        return torch.logit(probs, eps=PROBABILITY_EPS), preds
