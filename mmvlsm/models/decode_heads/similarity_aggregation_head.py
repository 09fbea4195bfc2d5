# Copyright (c) OpenMMLab. All rights reserved.
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmvlsm.registry import MODELS
from ..utils.pswin import PromptPool

SIMILARITIES = ('scaled', 'upstream')
AGGREGATIONS = ('soft', 'mean', 'top_k')


@MODELS.register_module()
class SimilarityAggregationHead(BaseModule):
    """PUNet's head: class maps from the similarity of each pixel's
    embedding to the prompt tokens of the background and the active class.

    For pixel m and the tokens n of class i (background: class 0),
    ``s = (cos(F_m, P_in) + 1) / 2`` in [0, 1]; the class score is the
    soft-selected mean ``sum_n softmax_n(s / sigma) s`` (weights without
    gradient), used directly as a logit, then upsampled x2 to the input
    size. ``similarity='upstream'`` gives PUNet's ``cos + 0.5`` (operator
    precedence in its ``cos + 1. / 2.``, range [-0.5, 1.5]).

    Args:
        channels (int): Embedding width (PUNet: 32).
        num_classes (int): Prompt pool size. Defaults to 10.
        num_tokens (int): Tokens per class. Defaults to 16.
        sigma (float): Temperature of the soft selection. Defaults to 0.1.
        aggregation (str): ``'soft'``, ``'mean'`` (plain mean over tokens)
            or ``'top_k'`` (mean of the ``top_k`` highest). Defaults to
            'soft'.
        top_k (int): Tokens kept by ``'top_k'``. Defaults to 3.
        similarity (str): ``'scaled'`` or ``'upstream'``. Defaults to
            'scaled'.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 channels: int = 32,
                 num_classes: int = 10,
                 num_tokens: int = 16,
                 sigma: float = 0.1,
                 aggregation: str = 'soft',
                 top_k: int = 3,
                 similarity: str = 'scaled',
                 init_cfg: dict = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if aggregation not in AGGREGATIONS:
            raise ValueError(f'aggregation must be one of {AGGREGATIONS}, '
                             f'got {aggregation!r}')
        if similarity not in SIMILARITIES:
            raise ValueError(f'similarity must be one of {SIMILARITIES}, got '
                             f'{similarity!r}')
        self.num_tokens = num_tokens
        self.sigma = sigma
        self.aggregation = aggregation
        self.top_k = top_k
        self.similarity = similarity
        self.pool = PromptPool(channels, num_classes, num_tokens)

    def forward(self, embedding: Tensor, classes: Tensor) -> Tensor:
        """Class maps.

        Args:
            embedding (Tensor): (B, C, h, w) or (B, C, h, w, d), the
                decoder's output.
            classes (Tensor): (B, K) class indices; PUNet: background and
                the active class, (B, 2).

        Returns:
            Tensor: (B, K, 2h, 2w[, d]) logits (in-plane upsampling only,
            as the stem strides in-plane only).
        """
        b, c, *size = embedding.shape
        prompts = self.pool(classes).view(b, classes.shape[1], self.num_tokens,
                                          c)
        cosine = torch.einsum('bcm,bknc->bknm',
                              F.normalize(embedding.flatten(2), dim=1),
                              F.normalize(prompts, dim=-1))
        s = (cosine + 1) / 2 if self.similarity == 'scaled' else cosine + 0.5
        if self.aggregation == 'soft':
            weights = (s.detach() / self.sigma).softmax(dim=2)
            scores = (weights * s).sum(dim=2)
        elif self.aggregation == 'mean':
            scores = s.mean(dim=2)
        else:
            scores = s.topk(self.top_k, dim=2).values.mean(dim=2)
        scores = scores.view(b, -1, *size)
        if len(size) == 2:
            return F.interpolate(
                scores, scale_factor=2, mode='bilinear', align_corners=False)
        return F.interpolate(
            scores,
            scale_factor=(2., 2., 1.),
            mode='trilinear',
            align_corners=False)
