# Copyright (c) OpenMMLab. All rights reserved.
from typing import Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmvlsm.registry.classification import MODELS


@MODELS.register_module()
class ProjectionNeck(BaseModule):
    """CITE's trainable linear map from the image to the text embedding.

    With ``init='normal_identity'`` the weight is drawn from N(0, 0.02) and
    the identity is added to its top-left block, so the map starts close to
    embedding the image feature into the first ``in_channels`` dimensions;
    the bias keeps ``nn.Linear``'s default init. The parameters are fp32
    (CITE trains fp16 parameters with plain SGD; use AMP instead).

    Args:
        in_channels (int): Channels of the image feature. Defaults to 512.
        out_channels (int): Width of the text embedding. Defaults to 1024.
        init (str): ``'normal_identity'`` or ``'default'`` (``nn.Linear``'s
            init). Defaults to ``'normal_identity'``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 512,
                 out_channels: int = 1024,
                 init: str = 'normal_identity',
                 init_cfg: dict = None):
        super().__init__(init_cfg=init_cfg)
        if init not in ('normal_identity', 'default'):
            raise ValueError(f'Unknown init "{init}", choose from '
                             '"normal_identity" and "default".')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.fc = nn.Linear(in_channels, out_channels)
        if init == 'normal_identity':
            with torch.no_grad():
                nn.init.normal_(self.fc.weight, std=0.02)
                # weight is (out, in): identity on the top-left block.
                self.fc.weight.add_(
                    torch.eye(out_channels, in_channels, dtype=torch.float32))

    def forward(self, inputs: Union[Tuple[Tensor, ...],
                                    Tensor]) -> Tuple[Tensor]:
        """Project the last feature.

        Args:
            inputs (tuple[Tensor] | Tensor): Features (B, in_channels), the
                last one of a tuple is used (mmpretrain's convention).

        Returns:
            tuple[Tensor]: (B, out_channels).
        """
        if isinstance(inputs, (tuple, list)):
            inputs = inputs[-1]
        return (self.fc(inputs), )
