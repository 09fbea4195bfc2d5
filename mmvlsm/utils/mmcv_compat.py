# Copyright (c) OpenMMLab. All rights reserved.
"""Pure-PyTorch stand-ins for the compiled ``mmcv.ops`` that mmseg imports.

mmseg 1.2.2 imports ``point_sample`` and ``sigmoid_focal_loss`` from
``mmcv.ops`` at module level, so ``import mmseg.models`` fails under
``mmcv-lite``, which has no compiled ``mmcv._ext``. When (and only when) the
real ``mmcv.ops`` cannot be imported, :func:`install_mmcv_ops_fallback` puts a
small module in its place that provides exactly those two ops and raises a
clear :class:`ModuleNotFoundError` for any other compiled op. A full mmcv is
left untouched.
"""
import sys
import types
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

FALLBACK_OPS = ('point_sample', 'sigmoid_focal_loss')


def point_sample(input: Tensor,
                 points: Tensor,
                 align_corners: bool = False,
                 **kwargs) -> Tensor:
    """Sample ``input`` at normalised ``points``, as ``mmcv.ops``'s version.

    Args:
        input (Tensor): Feature map, shape (N, C, H, W).
        points (Tensor): Point coordinates in ``[0, 1] x [0, 1]``, shape
            (N, P, 2) or (N, Hgrid, Wgrid, 2), in (x, y) order.
        align_corners (bool): Passed to :func:`F.grid_sample`.
            Defaults to False.
        **kwargs: Other arguments of :func:`F.grid_sample`.

    Returns:
        Tensor: Sampled features, shape (N, C, P) or (N, C, Hgrid, Wgrid).
    """
    add_dim = points.dim() == 3
    if add_dim:
        points = points.unsqueeze(2)
    output = F.grid_sample(
        input, 2.0 * points - 1.0, align_corners=align_corners, **kwargs)
    return output.squeeze(3) if add_dim else output


def sigmoid_focal_loss(input: Tensor,
                       target: Tensor,
                       gamma: float = 2.0,
                       alpha: float = 0.25,
                       weight: Optional[Tensor] = None,
                       reduction: str = 'mean') -> Tensor:
    """Sigmoid focal loss with the semantics of mmcv's compiled kernel.

    Args:
        input (Tensor): Logits, shape (N, C).
        target (Tensor): Class indices in ``[0, C]``, shape (N,); ``C`` means
            background (no positive class).
        gamma (float): Focusing parameter. Defaults to 2.0.
        alpha (float): Weight of the positive term. Defaults to 0.25.
        weight (Tensor, optional): Per-class weights, shape (C,). As in the
            kernel, a sample's whole row is scaled by the weight of its
            target class (background rows are not scaled).
        reduction (str): ``'none'``, ``'mean'`` (sum divided by N, as mmcv
            does) or ``'sum'``. Defaults to ``'mean'``.

    Returns:
        Tensor: The loss, shape (N, C) for ``'none'``, else a scalar.
    """
    if reduction not in ('none', 'mean', 'sum'):
        raise ValueError(f'unknown reduction {reduction!r}')
    num_classes = input.size(1)
    one_hot = F.one_hot(target, num_classes + 1)[:, :num_classes]
    one_hot = one_hot.type_as(input)
    prob = input.sigmoid()
    p_t = prob * one_hot + (1 - prob) * (1 - one_hot)
    alpha_t = alpha * one_hot + (1 - alpha) * (1 - one_hot)
    loss = F.binary_cross_entropy_with_logits(
        input, one_hot, reduction='none') * alpha_t * (1 - p_t).pow(gamma)
    if weight is not None:
        is_fg = target < num_classes
        row_weight = torch.ones_like(target, dtype=input.dtype)
        row_weight[is_fg] = weight[target[is_fg]].to(input.dtype)
        loss = loss * row_weight[:, None]
    if reduction == 'mean':
        return loss.sum() / input.size(0)
    if reduction == 'sum':
        return loss.sum()
    return loss


def _missing_op(name: str):
    # ModuleNotFoundError (an ImportError) is what mmcv/mmseg catch around
    # optional op imports, so those keep degrading gracefully.
    raise ModuleNotFoundError(
        f'mmcv.ops.{name} is a compiled op, and the installed mmcv has no '
        'compiled extension (mmcv-lite, or an mmcv built without ops). '
        f'mmvlsm only provides pure-PyTorch versions of {FALLBACK_OPS}. '
        'Install a full mmcv to use this op; see docs/installation.md.')


def install_mmcv_ops_fallback() -> bool:
    """Provide ``mmcv.ops`` from :data:`FALLBACK_OPS` if it is unimportable.

    Returns:
        bool: True if the fallback was installed, False if the real
        ``mmcv.ops`` imported (or a fallback was already installed).
    """
    current = sys.modules.get('mmcv.ops')
    if getattr(current, '__mmvlsm_fallback__', False):
        return False
    try:
        import mmcv.ops  # noqa: F401
        return False
    except ImportError:
        # A half-imported package may linger; drop it and its submodules.
        for name in [n for n in sys.modules if n.startswith('mmcv.ops')]:
            del sys.modules[name]

    import mmcv
    fallback = types.ModuleType(
        'mmcv.ops', 'mmvlsm pure-PyTorch stand-in for compiled mmcv.ops')
    fallback.__mmvlsm_fallback__ = True
    fallback.point_sample = point_sample
    fallback.sigmoid_focal_loss = sigmoid_focal_loss

    def __getattr__(name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        _missing_op(name)

    fallback.__getattr__ = __getattr__
    sys.modules['mmcv.ops'] = fallback
    mmcv.ops = fallback
    return True
