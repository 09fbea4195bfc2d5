# Copyright (c) OpenMMLab. All rights reserved.
"""Pooled-feature image encoders with published weights: CITE's linear
probe and fine-tuning baselines beyond ViTs (REMEDIS-style ResNet-50,
CTransPath's Swin)."""
from typing import List, Optional, Tuple

import torch.nn as nn
from mmengine.logging import print_log
from mmpretrain.models.backbones import ResNet, SwinTransformer
from torch import Tensor

from mmvlsm.registry.classification import MODELS
from ..utils import (StateDict, load_weights_exactly, read_encoder_checkpoint,
                     resnet_to_mmpretrain, timm_swin_to_mmpretrain)


class PretrainedEncoderMixin:
    """Loading, freezing and the pooled feature shared by the encoders.

    The host class is an mmpretrain backbone whose :meth:`forward` returns
    one (B, C, H, W) map; :meth:`forward` here averages it over H and W.
    """

    PRETRAINED_FORMATS: Tuple[str, ...] = ()
    # Where to get the weights, for the missing-file error.
    WEIGHTS_HINT = ''

    def _setup_encoder(self, pretrained: Optional[str], pretrained_format: str,
                       frozen: bool) -> None:
        if pretrained_format not in self.PRETRAINED_FORMATS:
            raise ValueError(
                f'Unknown pretrained_format "{pretrained_format}" for '
                f'{type(self).__name__}, choose from '
                f'{self.PRETRAINED_FORMATS}.')
        self.pretrained = pretrained
        self.pretrained_format = pretrained_format
        self.frozen = frozen
        if pretrained is not None:
            self.load_pretrained(pretrained)
        if frozen:
            for param in self.parameters():
                param.requires_grad = False

    def convert_checkpoint(self,
                           state_dict: StateDict) -> Tuple[StateDict, List]:
        """Name ``state_dict`` as this module; return it and what was
        dropped."""
        raise NotImplementedError

    def load_pretrained(self, path: str) -> None:
        """Fill every weight from ``path`` (see :attr:`pretrained_format`).

        Buffers that a checkpoint need not carry (BN's
        ``num_batches_tracked``: torchvision's ResNet weights predate it;
        Swin's ``relative_position_index``: timm 0.9+ does not save it, as
        it is a function of the window size) keep this module's values.

        Args:
            path (str): A file, a folder or ``'hf-hub:ORG/REPO'`` (see
                :func:`~mmvlsm.models.utils.encoder_checkpoint.
                read_encoder_checkpoint`).

        Raises:
            ValueError: If a weight is missing, unexpected or of the wrong
                shape, naming it and the file.
        """
        state_dict, dropped = self.convert_checkpoint(
            read_encoder_checkpoint(path, self.WEIGHTS_HINT))
        if dropped:
            print_log(
                f'{type(self).__name__}: not loading {len(dropped)} '
                f'classifier weights of "{path}": {dropped}',
                logger='current')
        for key, value in self.state_dict().items():
            if key.endswith(
                ('num_batches_tracked', 'relative_position_index')):
                state_dict.setdefault(key, value)
        load_weights_exactly(self, state_dict,
                             f'"{path}" ({self.pretrained_format} format)')

    def init_weights(self) -> None:
        """mmpretrain's initialisation, unless weights were loaded: the
        runner calls it before training and would redraw them."""
        if self.pretrained is None:
            super().init_weights()

    def train(self, mode: bool = True):
        """Set the mode; a frozen encoder stays in eval mode (BN statistics
        and drop paths as pretrained)."""
        # mmpretrain's ResNet.train returns None.
        super().train(mode and not self.frozen)
        return self

    @property
    def feature_channels(self) -> int:
        """Width of the pooled feature."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tuple[Tensor]:
        """Encode images.

        Args:
            x (Tensor): Images, (B, 3, H, W).

        Returns:
            tuple[Tensor]: The last stage's map averaged over space,
            (B, :attr:`feature_channels`).
        """
        return (super().forward(x)[-1].mean(dim=(2, 3)), )


@MODELS.register_module()
class ResNetEncoder(PretrainedEncoderMixin, ResNet):
    """mmpretrain's ResNet with global average pooling, from torchvision,
    timm or mmpretrain weights.

    REMEDIS's (Azizi et al., 2023) ResNet-50 checkpoints are TensorFlow
    BiT models (pre-activation ResNet v2 with group norm and weight
    standardisation); they do not fit this (v1.5, batch norm) ResNet. A
    REMEDIS-style encoder here is a torchvision-layout ResNet-50 trained the
    same way (SimCLR-then-supervised on medical images), or any
    torchvision/timm ResNet-50 checkpoint.

    Args:
        depth (int): 18, 34, 50, 101 or 152. Defaults to 50.
        pretrained (str, optional): Weights (a file, a folder or
            ``'hf-hub:ORG/REPO'``); every weight is loaded or it is an
            error. Required: ``None`` (mmpretrain's random init) must be
            asked for.
        pretrained_format (str): ``'torchvision'`` (``resnet50-*.pth``),
            ``'timm'`` (``timm/resnet50.*`` on the Hub) or ``'mmpretrain'``
            (a checkpoint whose ``backbone.*`` is a ResNet). The classifier
            weights (``fc.*``; ``head.*`` and ``neck.*``) are dropped and
            logged. Defaults to ``'torchvision'``.
        frozen (bool): Freeze every weight and keep the encoder in eval mode
            (linear probe). Defaults to True.
        **kwargs: Passed to mmpretrain's ``ResNet`` (``out_indices`` is the
            last stage).
    """

    PRETRAINED_FORMATS = ('torchvision', 'timm', 'mmpretrain')
    WEIGHTS_HINT = ('e.g. torchvision\'s https://download.pytorch.org/models/'
                    'resnet50-11ad3fa6.pth, or "hf-hub:timm/resnet50.a1_in1k"')

    def __init__(self,
                 depth: int = 50,
                 *,
                 pretrained: Optional[str],
                 pretrained_format: str = 'torchvision',
                 frozen: bool = True,
                 **kwargs):
        super().__init__(depth=depth, out_indices=(3, ), **kwargs)
        self._setup_encoder(pretrained, pretrained_format, frozen)

    @property
    def feature_channels(self) -> int:
        """Width of the pooled feature (2048 for ResNet-50)."""
        return getattr(self, self.res_layers[-1])[-1].out_channels

    def convert_checkpoint(self,
                           state_dict: StateDict) -> Tuple[StateDict, List]:
        return resnet_to_mmpretrain(state_dict, self.pretrained_format)


class ConvStem(nn.Module):
    """CTransPath's patch embedding: two strided 3x3 convs, then a 1x1.

    conv3x3/2 (no bias) -> BN -> ReLU to ``embed_dims // 8`` channels,
    again to ``embed_dims // 4``, conv1x1 (with bias) to ``embed_dims``,
    then LayerNorm over channels: a 4x4 patch grid, as Swin's ``PatchEmbed``
    gives, with CTransPath's names (``proj.0``, ``proj.1``, ``proj.3``,
    ``proj.4``, ``proj.6``, ``norm``).

    Args:
        in_channels (int): Image channels. Defaults to 3.
        embed_dims (int): Output channels, a multiple of 8. Defaults to 96.
    """

    def __init__(self, in_channels: int = 3, embed_dims: int = 96):
        super().__init__()
        if embed_dims % 8:
            raise ValueError(
                f'ConvStem needs embed_dims divisible by 8, got {embed_dims}.')
        layers = []
        channels = [in_channels, embed_dims // 8, embed_dims // 4]
        for cin, cout in zip(channels[:-1], channels[1:]):
            layers += [
                nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True)
            ]
        layers.append(nn.Conv2d(channels[-1], embed_dims, 1))
        self.proj = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """Embed patches.

        Args:
            x (Tensor): Images, (B, C, H, W).

        Returns:
            tuple: Tokens (B, H/4 * W/4, embed_dims) and the grid
            (H/4, W/4), as mmpretrain's ``PatchEmbed`` returns them.
        """
        x = self.proj(x)
        grid = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), tuple(grid)


@MODELS.register_module()
class SwinEncoder(PretrainedEncoderMixin, SwinTransformer):
    """mmpretrain's Swin Transformer, final norm and average pooling, from
    timm-layout weights; with ``conv_stem=True`` it is CTransPath.

    CTransPath (Wang et al., 2022) is timm's ``swin_tiny_patch4_window7_224``
    with a :class:`ConvStem` in place of the patch embedding and no
    classifier: ``arch='tiny', conv_stem=True`` and the authors'
    ``ctranspath.pth`` (``pretrained_format='ctranspath'``) give its 768-d
    feature. Its timm 0.9+ port on the Hub
    (``hf-hub:1aurent/swin_tiny_patch4_window7_224.CTransPath``) loads with
    ``pretrained_format='timm'``.

    Args:
        arch (str | dict): mmpretrain's Swin arch. Defaults to ``'tiny'``.
        conv_stem (bool): CTransPath's :class:`ConvStem` (patch size 4) in
            place of the 4x4 patch embedding. Defaults to True.
        pretrained (str, optional): Weights (a file, a folder or
            ``'hf-hub:ORG/REPO'``); every weight is loaded or it is an
            error. Required: ``None`` (random init) must be asked for.
        pretrained_format (str): ``'ctranspath'`` (timm 0.5's layout:
            ``ctranspath.pth``, Microsoft's Swin releases) or ``'timm'``
            (timm 0.9+). A classifier (``head.*``) is dropped and logged.
            Defaults to ``'ctranspath'``.
        frozen (bool): Freeze every weight and keep the encoder in eval mode
            (linear probe). Defaults to True.
        **kwargs: Passed to mmpretrain's ``SwinTransformer``
            (``out_indices`` is the last stage).
    """

    PRETRAINED_FORMATS = ('ctranspath', 'timm')
    WEIGHTS_HINT = ('CTransPath\'s ctranspath.pth is linked from '
                    'https://github.com/Xiyue-Wang/TransPath')

    def __init__(self,
                 arch='tiny',
                 conv_stem: bool = True,
                 *,
                 pretrained: Optional[str],
                 pretrained_format: str = 'ctranspath',
                 frozen: bool = True,
                 **kwargs):
        num_stages = len(arch['depths']) if isinstance(arch, dict) else 4
        super().__init__(arch=arch, out_indices=(num_stages - 1, ), **kwargs)
        if conv_stem:
            if kwargs.get('patch_size', 4) != 4:
                raise ValueError('ConvStem embeds 4x4 patches, got '
                                 f'patch_size={kwargs["patch_size"]}.')
            self.patch_embed = ConvStem(
                kwargs.get('in_channels', 3), self.embed_dims)
        self._setup_encoder(pretrained, pretrained_format, frozen)

    @property
    def feature_channels(self) -> int:
        """Width of the pooled feature (768 for Swin-T)."""
        return self.num_features[-1]

    def convert_checkpoint(self,
                           state_dict: StateDict) -> Tuple[StateDict, List]:
        return timm_swin_to_mmpretrain(state_dict, self.pretrained_format,
                                       self.num_layers)
