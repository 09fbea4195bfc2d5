# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from mmpretrain.models.heads import ClsHead
from torch import Tensor

from mmvlsm.registry.classification import MODELS
from ..text_encoders import cached_text_embeddings


@MODELS.register_module()
class TextEmbeddingHead(ClsHead):
    """CITE's head: cosine similarity to frozen class-name text embeddings.

    The class embeddings are computed once at construction from a text
    model (``text_encoder``: a BERT-family model, an open_clip text tower
    such as BiomedCLIP's, or CLIP's), through a cache shared by all runs
    (see :mod:`~mmvlsm.models.text_encoders.embedding_cache`), or loaded
    from a ``text_embeddings_file`` (a .pth tensor (num_classes, D), see
    ``tools/misc/cache_text_embeddings.py``). They are kept as a
    non-persistent fp32 buffer: not in checkpoints, so the cache, the file
    or the text model must be available when the model is built (CITE's
    Q4). Logits are ``exp(temperature) * cos(feature, embedding)``; CITE's
    4.6052 gives 100, CLIP's logit scale. The loss is ``ClsHead``'s
    (cross-entropy by default).

    Args:
        texts (Sequence[str], optional): Class names, in label order.
            Required with ``text_encoder``.
        text_encoder (dict, optional): ``dict(type='bert', model=NAME_OR_DIR,
            key='pooler_output' | 'cls' | 'mean')`` (``type`` defaults to
            ``'bert'``), ``dict(type='open_clip', model='hf-hub:ORG/REPO')``
            or ``dict(type='openai_clip', checkpoint=PATH)`` for zero-shot
            CLIP, see :func:`~mmvlsm.models.text_encoders.encode_texts`.
        text_embeddings_file (str, optional): Embeddings saved to a file,
            used instead of ``text_encoder``.
        template (str): Applied to every class name, e.g.
            ``'a histopathology image of {}'``. Defaults to ``'{}'`` (CITE:
            raw class names).
        cache (bool): Read the embeddings of ``text_encoder`` from the cache
            and store them there. Defaults to True.
        in_channels (int, optional): Width of the input feature, checked
            against the embeddings' width. Defaults to None (checked at the
            first forward; ``CITEClassifier`` checks it when it builds).
        temperature (float): Log of the logit scale. Defaults to 4.6052.
        learnable_temperature (bool): Train the temperature.
            Defaults to False.
        **kwargs: Passed to ``ClsHead`` (``loss``, ``topk``, ``cal_acc``,
            ``init_cfg``).
    """

    def __init__(self,
                 texts: Optional[Sequence[str]] = None,
                 text_encoder: Optional[dict] = None,
                 text_embeddings_file: Optional[str] = None,
                 template: str = '{}',
                 cache: bool = True,
                 in_channels: Optional[int] = None,
                 temperature: float = 4.6052,
                 learnable_temperature: bool = False,
                 **kwargs):
        # ClsHead builds its loss by name: resolve it in mmpretrain's scope,
        # not mmvlsm's, whose parent mmseg has another 'CrossEntropyLoss'.
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            super().__init__(**kwargs)
        if (text_encoder is None) == (text_embeddings_file is None):
            raise ValueError('Give exactly one of text_encoder and '
                             'text_embeddings_file.')
        if text_embeddings_file is not None:
            embeddings = torch.load(text_embeddings_file, map_location='cpu')
            if not isinstance(embeddings, Tensor) or embeddings.dim() != 2:
                raise ValueError(
                    f'{text_embeddings_file} must hold a (num_classes, D) '
                    'tensor.')
            if texts is not None and len(texts) != len(embeddings):
                raise ValueError(
                    f'{len(texts)} texts but {len(embeddings)} embeddings '
                    f'in {text_embeddings_file}.')
        else:
            if not texts:
                raise ValueError('text_encoder needs the class names (texts).')
            embeddings = cached_text_embeddings(texts, text_encoder, template,
                                                cache)
        self.texts = list(texts) if texts is not None else None
        self.register_buffer(
            'text_embeddings', embeddings.float(), persistent=False)
        self.in_channels = in_channels
        if in_channels is not None:
            self._check_width(in_channels)
        temperature = torch.tensor(float(temperature))
        if learnable_temperature:
            self.temperature = nn.Parameter(temperature)
        else:
            self.register_buffer('temperature', temperature, persistent=False)

    @property
    def num_classes(self) -> int:
        return self.text_embeddings.shape[0]

    @property
    def text_channels(self) -> int:
        """Width of the text embeddings."""
        return self.text_embeddings.shape[1]

    def _check_width(self, width: int) -> None:
        if width != self.text_channels:
            raise ValueError(
                f'The image feature has {width} channels but the text '
                f'embeddings have {self.text_channels}: set the neck\'s '
                'out_channels to the text model\'s hidden size (or leave it '
                'unset under CITEClassifier).')

    def forward(self, feats: Union[Tuple[Tensor, ...], Tensor]) -> Tensor:
        """Class scores.

        Args:
            feats (tuple[Tensor] | Tensor): Image features (B, D); the last
                one of a tuple is used.

        Returns:
            Tensor: (B, num_classes), ``exp(temperature)`` x cosine.
        """
        x = self.pre_logits(feats) if isinstance(feats, tuple) else feats
        self._check_width(x.shape[-1])
        weights = self.text_embeddings.to(x.dtype)
        cosine = F.normalize(x, dim=-1) @ F.normalize(weights, dim=-1).t()
        return self.temperature.exp().to(x.dtype) * cosine
