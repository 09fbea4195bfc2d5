# Copyright (c) OpenMMLab. All rights reserved.
import inspect
import math
from abc import abstractmethod
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from torch import Tensor

from mmvlsm.registry import MODELS
from ..adapters import (adapt_model, freeze_norm_statistics,
                        keep_trained_state, trained_state_keys)
from ..utils import TokenizerConfig, build_tokenizer
from ..utils.frame_geometry import (FrameMatrix, OptSize, Size, letterbox_map,
                                    unletterbox)

# The dims to flip to undo each ``RandomFlip`` direction on (1, H, W) maps.
FLIP_DIMS = {'horizontal': (-1, ), 'vertical': (-2, ), 'diagonal': (-2, -1)}
# Where losses are computed: at the masks' size or at the logits'.
LOSS_SIZES = ('input', 'logits')
LossConfigs = Union[ConfigType, Sequence[ConfigType]]
# Soft Dice plus a real BCE on logits, both with weight 1.
DEFAULT_LOSSES = (dict(type='SoftDiceLoss'), dict(type='SigmoidBCELoss'))


@torch.compiler.disable
def distinct_prompts(
        data_samples: SampleList,
        device: torch.device) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """The distinct prompts of a batch, found from the samples' text.

    Equal strings give equal token ids, so comparing them on the host
    finds repeats without a device synchronisation.

    Args:
        data_samples (list[:obj:`SegDataSample`]): The samples, with the
            prompts in ``metainfo['text']``.
        device (torch.device): Device of the returned tensors.

    Returns:
        tuple[Tensor | None, Tensor | None]: The batch rows of the first
        occurrence of each distinct prompt, (P, ), and each sample's index
        into them, (B, ); ``(None, None)`` when every prompt is distinct
        or a sample has no text.
    """
    texts = [sample.metainfo.get('text') for sample in data_samples]
    if not all(isinstance(text, str) for text in texts):
        return None, None
    first: Dict[str, int] = {}
    for row, text in enumerate(texts):
        first.setdefault(text, row)
    if len(first) == len(texts):
        return None, None
    order = {text: i for i, text in enumerate(first)}
    rows = torch.tensor(list(first.values()))
    index = torch.tensor([order[text] for text in texts])
    return rows.to(device), index.to(device)


def take_rows(feats: Any, index: Tensor) -> Any:
    """Rows ``index`` of a tensor, or of each tensor of a tuple or list."""
    if isinstance(feats, Tensor):
        return feats[index]
    return type(feats)(take_rows(one, index) for one in feats)


class TextPromptedSegmentor(BaseSegmentor):
    """Base class of segmentors that segment what a text prompt describes.

    Each data sample carries its prompt as a string in ``metainfo['text']``
    and gets one binary mask. The prompts of a batch come tokenized by the
    data pipeline (``TokenizePrompt``) or are tokenized here (padded to the
    longest one, truncated to ``context_length`` tokens), see
    :meth:`tokenize`, and a subclass turns images and tokens into logits in
    three steps:

    - :meth:`extract_feat`: image features from ``inputs``;
    - :meth:`encode_text`: text features from the tokens;
    - :meth:`decode`: logits of shape (B, 1, h, w) from both.

    :meth:`segment` runs the three, with the adapters of ``adapt_cfg`` (if
    any) between the encoders and the decoder; a model that mixes text
    into the image encoder overrides it instead.

    In training, when logits and ``gt_sem_seg`` differ in size, the logits
    are resized (bilinear) to the masks, or with
    ``train_cfg=dict(loss_size='logits')`` the masks (nearest) to the
    logits; every loss in ``losses`` is then called as ``loss(logits, gt)``
    with ``gt`` of shape (B, 1, h, w) in {0, 1}. In testing, flips are
    undone, logits are resized (bilinear) to each sample's ``ori_shape``
    (for letterboxed inputs, see
    :class:`~mmvlsm.datasets.transforms.LetterBoxResize`, only the image
    area is, the padding is dropped), and only then thresholded, so masks
    are as sharp as the original image allows.

    Args:
        tokenizer (str | dict | PreTrainedTokenizerBase): The tokenizer; see
            :func:`mmvlsm.models.utils.build_tokenizer`.
        context_length (int): Maximum number of tokens of a prompt, start
            and end tokens included; longer prompts are truncated.
            Defaults to 77.
        losses (dict | Sequence[dict]): Configs of the losses. Losses with
            the same ``loss_name`` are summed. Defaults to soft Dice plus
            BCE, both on logits and with weight 1.
        adapt_cfg (dict, optional): Parameter-efficient fine-tuning: freeze
            the host and add adapters, see
            :func:`mmvlsm.models.adapters.adapt_model`. Defaults to None
            (every part trains as the ``freeze_*`` flags say).
        train_cfg (dict, optional): Training config. ``loss_size`` is
            ``'input'`` (logits resized to the masks) or ``'logits'``
            (masks resized to the logits). Defaults to None, i.e.
            ``dict(loss_size='input')``.
        test_cfg (dict, optional): Testing config. ``threshold`` (float) is
            the sigmoid probability above which a pixel is foreground.
            Defaults to None, i.e. ``dict(threshold=0.5)``.
        data_preprocessor (dict, optional): Config of the data
            preprocessor, usually ``VLSMDataPreProcessor``. Defaults to None.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None.
    """

    def __init__(self,
                 tokenizer: TokenizerConfig,
                 context_length: int = 77,
                 losses: LossConfigs = DEFAULT_LOSSES,
                 adapt_cfg: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None):
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.adapt_cfg = adapt_cfg
        self.adapters = nn.ModuleList()
        self.tokenizer = build_tokenizer(tokenizer)
        self.context_length = context_length
        if isinstance(losses, dict):
            losses = [losses]
        self.losses = nn.ModuleList(MODELS.build(cfg) for cfg in losses)
        self.train_cfg = train_cfg if train_cfg is not None else dict()
        self.loss_size = self.train_cfg.get('loss_size', 'input')
        if self.loss_size not in LOSS_SIZES:
            raise ValueError(f'train_cfg.loss_size must be one of {LOSS_SIZES}'
                             f', got {self.loss_size!r}.')
        self.test_cfg = test_cfg if test_cfg is not None else dict()
        self.align_corners = False
        self._pipeline_tokens_checked = False
        self.unused_modules: List[str] = []

    def check_vocab_size(self, vocab_size: int) -> None:
        """Fail if the tokenizer can give ids the text encoder lacks.

        Args:
            vocab_size (int): Number of token embeddings of the encoder.
        """
        if len(self.tokenizer) > vocab_size:
            raise ValueError(f'The tokenizer has {len(self.tokenizer)} tokens '
                             f'but the text encoder only {vocab_size}.')

    def set_unused_modules(self, names: Sequence[str]) -> None:
        """Name the host modules whose output never reaches the logits.

        A subclass calls it before :meth:`freeze_parts` for modules its
        forward skips, e.g. the ViT blocks after the last one the decoder
        reads. They are frozen (they would never get a gradient, and DDP
        would need ``find_unused_parameters``), and :meth:`freeze_parts`
        refuses adapters or trainable parameters inside them.

        Args:
            names (Sequence[str]): Full module names, e.g.
                ``'vision_model.encoder.layers.10'``.
        """
        self.unused_modules = list(names)
        for name in self.unused_modules:
            self.get_submodule(name).requires_grad_(False)

    def _check_unused_modules(self) -> None:
        """Fail if anything in :attr:`unused_modules` would train."""
        for name in self.unused_modules:
            trainable = [
                f'{name}.{key}'
                for key, param in self.get_submodule(name).named_parameters()
                if param.requires_grad
            ]
            if trainable:
                raise ValueError(
                    f'adapt_cfg makes {trainable[0]} (and '
                    f'{len(trainable) - 1} more) of {name} trainable, but '
                    f'{type(self).__name__} never runs {name}: nothing it '
                    'computes reaches the decoder, so it would never train. '
                    'Place adapters and LoRA in the blocks before the last '
                    'one the decoder reads (extract_layers).')

    def freeze_parts(self, vision: nn.Module, text: Sequence[nn.Module],
                     decoder: nn.Module, freeze_vision: bool,
                     freeze_text: bool, freeze_decoder: bool) -> None:
        """Freeze the parts the flags name, then apply ``adapt_cfg``.

        Subclasses call it last in ``__init__``, once their weights are
        loaded. Subclasses run a frozen encoder under ``torch.no_grad()``.
        A frozen decoder only loses ``requires_grad``: gradients must still
        flow through it to encoders that train. With ``adapt_cfg`` the whole
        host is frozen instead, and an encoder runs under ``no_grad`` when
        nothing in it trains (adapters inside it do).

        Args:
            vision (nn.Module): The image encoder.
            text (Sequence[nn.Module]): The text encoder's modules,
                projection included.
            decoder (nn.Module): The decoder.
            freeze_vision (bool): Freeze ``vision``.
            freeze_text (bool): Freeze ``text``.
            freeze_decoder (bool): Freeze ``decoder``.
        """
        self.freeze_vision = freeze_vision
        self.freeze_text = freeze_text
        self.freeze_decoder = freeze_decoder
        if freeze_vision:
            vision.requires_grad_(False)
        if freeze_text:
            for module in text:
                module.requires_grad_(False)
        if freeze_decoder:
            decoder.requires_grad_(False)
        if self.adapt_cfg is None:
            return
        self.adapters = adapt_model(self, self.adapt_cfg)
        self._check_unused_modules()
        self.freeze_vision = not any(p.requires_grad
                                     for p in vision.parameters())
        self.freeze_text = not any(p.requires_grad for module in text
                                   for p in module.parameters())
        self.freeze_decoder = not any(p.requires_grad
                                      for p in decoder.parameters())
        keep_trained_state(self, trained_state_keys(self))

    def train(self, mode: bool = True) -> 'TextPromptedSegmentor':
        """Set the training mode; in an adapted model, batch norms with
        nothing to train stay in eval mode, so the host's statistics stay
        as loaded."""
        super().train(mode)
        if mode and self.adapt_cfg is not None:
            freeze_norm_statistics(self)
        return self

    @abstractmethod
    def extract_feat(self, inputs: Tensor) -> Any:
        """Extract image features.

        Args:
            inputs (Tensor): Normalized images of shape (B, 3, H, W).

        Returns:
            The image features :meth:`decode` takes.
        """

    @abstractmethod
    def encode_text(self, input_ids: Tensor, attention_mask: Tensor) -> Any:
        """Encode the tokenized prompts.

        Args:
            input_ids (Tensor): Token ids of shape (B, L).
            attention_mask (Tensor): 1 for tokens, 0 for padding, (B, L).

        Returns:
            The text features :meth:`decode` takes.
        """

    @abstractmethod
    def decode(self, img_feats: Any, text_feats: Any) -> Tensor:
        """Predict logits from image and text features.

        Returns:
            Tensor: Logits of shape (B, 1, h, w).
        """

    @classmethod
    def prompt_tokenizer_cfg(cls, model_cfg: dict) -> Tuple[Any, int]:
        """The tokenizer and context length a model config implies.

        :func:`mmvlsm.utils.bind_prompt_tokenizer` gives them to the
        pipeline's :class:`~mmvlsm.datasets.transforms.TokenizePrompt`, so
        that workers tokenise exactly as the model would.

        Args:
            model_cfg (dict): The ``model`` config of this class.

        Returns:
            tuple: The ``tokenizer`` config and ``context_length``.
        """
        context_length = model_cfg.get(
            'context_length',
            inspect.signature(cls).parameters['context_length'].default)
        return model_cfg.get('tokenizer'), context_length

    # Host-side work (strings, per-sample metadata) that torch.compile
    # would only break its graph on.
    @torch.compiler.disable
    def tokenize(self, data_samples: OptSampleList,
                 device: torch.device) -> Tuple[Tensor, Tensor]:
        """Token ids of a batch's prompts.

        The ids the pipeline's ``TokenizePrompt`` stored in the samples
        (``input_ids`` and ``attention_mask``, batched by the data
        preprocessor) are used as they are; samples without them (raw text,
        as from :func:`mmvlsm.apis.inference_model`) are tokenised here.
        Both give the same ids: the first pipeline batch is checked against
        this model's tokenizer, so a pipeline built for another model fails
        loudly.

        Args:
            data_samples (list[:obj:`SegDataSample`]): Samples whose
                ``metainfo['text']`` holds the prompts.
            device (torch.device): Device of the returned tensors.

        Returns:
            tuple[Tensor, Tensor]: ``input_ids`` and ``attention_mask``,
            both of shape (B, L) with L the length of the longest prompt,
            at most ``context_length``.
        """
        if data_samples is None:
            raise ValueError(f'{type(self).__name__} needs data samples with '
                             'the text prompt in metainfo["text"].')
        if all('input_ids' in sample for sample in data_samples):
            input_ids = torch.stack(
                [sample.input_ids for sample in data_samples]).to(device)
            attention_mask = torch.stack(
                [sample.attention_mask for sample in data_samples]).to(device)
            if not self._pipeline_tokens_checked:
                self._check_pipeline_tokens(data_samples, input_ids,
                                            attention_mask)
            return input_ids, attention_mask
        return self._tokenize_texts(data_samples, device)

    def _tokenize_texts(self, data_samples: SampleList,
                        device: torch.device) -> Tuple[Tensor, Tensor]:
        """Tokenise ``metainfo['text']`` of every sample, padded to the
        longest."""
        texts = [sample.metainfo.get('text') for sample in data_samples]
        for text in texts:
            if not isinstance(text, str):
                raise ValueError('Every data sample needs its prompt as a '
                                 f'string in metainfo["text"], got {text!r}.')
        tokens = self.tokenizer(
            texts,
            padding='longest',
            truncation=True,
            max_length=self.context_length,
            return_tensors='pt')
        return (tokens['input_ids'].to(device),
                tokens['attention_mask'].to(device))

    def _check_pipeline_tokens(self, data_samples: SampleList,
                               input_ids: Tensor,
                               attention_mask: Tensor) -> None:
        """Fail if the pipeline's tokens differ from this model's.

        The pipeline's batch may be longer (not trimmed to the longest
        prompt); the extra columns must then be padding.
        """
        ids, mask = self._tokenize_texts(data_samples, input_ids.device)
        length = ids.shape[1]
        if not (input_ids.shape[1] >= length
                and torch.equal(ids, input_ids[:, :length])
                and torch.equal(mask, attention_mask[:, :length])
                and not attention_mask[:, length:].any()):
            raise ValueError(
                'The token ids from the data pipeline (TokenizePrompt) differ '
                f"from {type(self).__name__}'s tokenizer for the prompts "
                f'{[s.metainfo.get("text") for s in data_samples][:3]}: '
                'give TokenizePrompt the tokenizer and context_length of '
                'the model (leave both unset and the tools fill them in).')
        self._pipeline_tokens_checked = True

    def encode_decode(self, inputs: Tensor,
                      batch_data_samples: OptSampleList) -> Tensor:
        """Segment each image by the prompt of its data sample.

        Args:
            inputs (Tensor): Normalized images of shape (B, 3, H, W).
            batch_data_samples (list[:obj:`SegDataSample`]): The samples,
                with the prompts in ``metainfo['text']``.

        Returns:
            Tensor: Logits of shape (B, 1, h, w).
        """
        input_ids, attention_mask = self.tokenize(batch_data_samples,
                                                  inputs.device)
        rows = prompt_index = None
        # Each distinct prompt is encoded once; not under torch.compile,
        # where every new number of distinct prompts would recompile the
        # text encoder, nor for adapters reading each sample's text layers.
        if not (torch.compiler.is_compiling()
                or any(adapter.reads_text_layers
                       for adapter in self.adapters)):
            rows, prompt_index = distinct_prompts(batch_data_samples,
                                                  inputs.device)
        if rows is not None:
            input_ids, attention_mask = input_ids[rows], attention_mask[rows]
        return self.segment(inputs, input_ids, attention_mask, prompt_index)

    def segment(self,
                inputs: Tensor,
                input_ids: Tensor,
                attention_mask: Tensor,
                prompt_index: Optional[Tensor] = None) -> Tensor:
        """Logits from images and token ids: encode both, let the adapters
        (if any) adapt the features, decode.

        Args:
            inputs (Tensor): Normalized images of shape (B, 3, H, W).
            input_ids (Tensor): Token ids of shape (B, L), or (P, L) for P
                distinct prompts with ``prompt_index``.
            attention_mask (Tensor): 1 for tokens, 0 for padding, same
                shape as ``input_ids``.
            prompt_index (Tensor, optional): For each image, the row of
                its prompt in ``input_ids``, (B, ). Each distinct prompt is
                then encoded once. Defaults to None (row i is image i's).

        Returns:
            Tensor: Logits of shape (B, 1, h, w).
        """
        img_feats = self.extract_feat(inputs)
        text_feats = self.encode_text(input_ids, attention_mask)
        if prompt_index is not None:
            text_feats = take_rows(text_feats, prompt_index)
            attention_mask = attention_mask[prompt_index]
        for adapter in self.adapters:
            img_feats, text_feats = adapter.adapt_features(
                img_feats, text_feats, attention_mask)
        return self.decode(img_feats, text_feats)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Compute the losses of a batch.

        Args:
            inputs (Tensor): Normalized images of shape (B, 3, H, W).
            data_samples (list[:obj:`SegDataSample`]): The samples, with
                ``gt_sem_seg`` of shape (1, H, W) in {0, 1}.

        Returns:
            dict[str, Tensor]: The losses, keyed by their ``loss_name``.
        """
        seg_logits = self.encode_decode(inputs, data_samples)
        gt = torch.stack([sample.gt_sem_seg.data for sample in data_samples])
        if seg_logits.shape[-2:] != gt.shape[-2:]:
            if self.loss_size == 'logits':
                gt = F.interpolate(
                    gt.float(), size=seg_logits.shape[-2:], mode='nearest')
            else:
                seg_logits = F.interpolate(
                    seg_logits,
                    size=gt.shape[-2:],
                    mode='bilinear',
                    align_corners=self.align_corners)
        losses: Dict[str, Tensor] = dict()
        for loss_module in self.losses:
            name = loss_module.loss_name
            value = loss_module(seg_logits, gt)
            losses[name] = losses[name] + value if name in losses else value
        return losses

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Predict a mask per sample at its original resolution.

        Args:
            inputs (Tensor): Normalized images of shape (B, 3, H, W).
            data_samples (list[:obj:`SegDataSample`]): The samples, with
                the prompts in ``metainfo['text']``.

        Returns:
            list[:obj:`SegDataSample`]: The samples with ``seg_logits``
            (logits) and ``pred_sem_seg`` (int64 in {0, 1}), both of shape
            (1, H, W) at ``ori_shape``.
        """
        seg_logits = self.encode_decode(inputs, data_samples)
        return self.postprocess_result(seg_logits, data_samples)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Return the raw logits of shape (B, 1, h, w)."""
        return self.encode_decode(inputs, data_samples)

    @torch.compiler.disable
    def postprocess_result(self, seg_logits: Tensor,
                           data_samples: SampleList) -> SampleList:
        """Resize logits to the original images and threshold them.

        Samples that share an original size, flip and letterbox are
        processed together: one flip, one resize and one threshold per
        group, all on
        the logits' device. A pixel is foreground where its logit exceeds
        ``logit(threshold)``, i.e. where its sigmoid probability exceeds
        ``test_cfg['threshold']``. Unlike mmseg's version, ``seg_logits``
        keeps the logits (not probabilities).

        Args:
            seg_logits (Tensor): Logits of shape (B, 1, h, w).
            data_samples (list[:obj:`SegDataSample`]): The samples, with
                ``ori_shape`` and optionally ``flip``, ``flip_direction``
                and ``letterbox_matrix`` or ``letterbox_size`` (with
                ``img_shape``) in their metainfo.

        Returns:
            list[:obj:`SegDataSample`]: The samples with ``seg_logits``
            (logits) and ``pred_sem_seg`` (int64 in {0, 1}), both of shape
            (1, H, W) at ``ori_shape``.
        """
        threshold = self.test_cfg.get('threshold', 0.5)
        if not 0 < threshold < 1:
            raise ValueError('test_cfg.threshold is a probability and must '
                             f'lie strictly between 0 and 1, got {threshold}')
        groups: Dict[tuple, List[int]] = {}
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            padding = meta.get('img_padding_size', meta.get('padding_size'))
            if padding is not None and any(padding):
                # Logits need not be at the input resolution, so padding
                # cannot be cropped reliably here.
                raise ValueError(
                    'Padded inputs are not supported: resize images to the '
                    'model resolution (or letterbox them with '
                    'LetterBoxResize) instead of padding them.')
            flip_dims = FLIP_DIMS[meta['flip_direction']] if meta.get(
                'flip', False) else ()
            groups.setdefault(
                (tuple(meta['ori_shape'][:2]), flip_dims,
                 tuple(meta['img_shape'][:2]) if 'img_shape' in meta else None,
                 letterbox_map(meta)), []).append(i)
        for (size, flip_dims, frame, matrix), indices in groups.items():
            logits = seg_logits if len(indices) == len(
                data_samples) else seg_logits[indices]
            if flip_dims:
                logits = logits.flip(flip_dims)
            logits, preds = self.resize_to_original(logits, size, frame,
                                                    matrix, threshold)
            for logit, pred, i in zip(logits, preds, indices):
                data_samples[i].set_data(
                    dict(
                        seg_logits=PixelData(data=logit),
                        pred_sem_seg=PixelData(data=pred)))
        return data_samples

    def resize_to_original(self, logits: Tensor, size: Size, frame: OptSize,
                           matrix: Optional[FrameMatrix],
                           threshold: float) -> Tuple[Tensor, Tensor]:
        """Resize a group's logits to their original size and threshold.

        Logits of plain-resized inputs are resized (bilinear) to ``size``;
        those of letterboxed ones resampled by :func:`unletterbox`. A
        pixel is foreground where its logit exceeds ``logit(threshold)``.

        Args:
            logits (Tensor): Logits over the input frame, (B, 1, h, w).
            size (tuple[int, int]): The original (height, width).
            frame (tuple[int, int], optional): The input's (height, width),
                None where the metainfo has no ``img_shape``.
            matrix (tuple, optional): The letterbox's map (see
                :func:`letterbox_map`), None for a plain resize.
            threshold (float): The probability threshold.

        Returns:
            tuple[Tensor, Tensor]: Logits (B, 1, *size) and masks (int64
            in {0, 1}) of the same shape.
        """
        if matrix is None:
            logits = F.interpolate(
                logits,
                size=size,
                mode='bilinear',
                align_corners=self.align_corners)
        else:
            logits = unletterbox(logits, matrix, frame, size)
        logit_threshold = math.log(threshold / (1 - threshold))
        return logits, (logits > logit_threshold).long()
