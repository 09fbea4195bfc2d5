# Copyright (c) OpenMMLab. All rights reserved.
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmvlsm.registry import MODELS


@MODELS.register_module()
class FixedOutputHead(BaseModule):
    """PUNet's ``fixed_output`` head: a linear probe on the embedding.

    ``conv1x1(LeakyReLU(BN(F)))`` to background and foreground, upsampled
    x2 to the input size. It replaces the prompt head in PUNet's ``fixed``,
    ``decoder``, ``bias`` and ``adapter`` adaptation variants (130
    parameters at 32 channels); it ignores the classes.

    Args:
        channels (int): Embedding width. Defaults to 32.
        num_outputs (int): Output maps. Defaults to 2.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 channels: int = 32,
                 num_outputs: int = 2,
                 init_cfg: dict = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.norm = nn.BatchNorm2d(channels)
        self.act = nn.LeakyReLU(0.01)
        self.conv = nn.Conv2d(channels, num_outputs, 1)

    def forward(self, embedding: Tensor, classes: Tensor = None) -> Tensor:
        """(B, C, h, w) embedding -> (B, num_outputs, 2h, 2w) logits."""
        logits = self.conv(self.act(self.norm(embedding)))
        return F.interpolate(
            logits, scale_factor=2, mode='bilinear', align_corners=False)
