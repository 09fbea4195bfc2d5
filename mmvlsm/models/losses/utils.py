# Copyright (c) OpenMMLab. All rights reserved.
import torch


def as_float_target(target: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """Give binary masks the shape and dtype of the predictions.

    Args:
        target (Tensor): Masks of shape (B, H, W) or (B, 1, H, W), usually
            ``int64`` as packed by mmseg.
        pred (Tensor): Predictions of shape (B, 1, H, W).

    Returns:
        Tensor: ``target`` as a (B, 1, H, W) tensor of ``pred``'s dtype.
    """
    if target.ndim == pred.ndim - 1:
        target = target.unsqueeze(1)
    if target.shape != pred.shape:
        raise ValueError(f'Target shape {tuple(target.shape)} does not match '
                         f'prediction shape {tuple(pred.shape)}.')
    return target.to(pred.dtype)
