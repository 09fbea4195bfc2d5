# Copyright (c) OpenMMLab. All rights reserved.
import torch
import torch.nn as nn
from torch import Tensor

ACTIVATIONS = dict(relu=nn.ReLU, gelu=nn.GELU)


class Adapter(nn.Module):
    """A bottleneck adapter (Houlsby et al., 2019) with an inner residual.

    ``y = x + scale * act_out(up(act(down(x))))``. VLSM-Adapter's adapter is
    the default: ReLU after both projections (``act_after_up=True``, the
    paper's ``f + sigma(psi(f W1) W2)``), torch's default init, no scale.

    With ``zero_init=True`` the up-projection starts at zero, so the adapter
    starts as the identity and an adapted model as its host;
    ``learnable_scale=True`` adds a trainable scalar on the branch
    (starting at 1).

    Args:
        embed_dims (int): Width of the features.
        hidden_dims (int): Width of the bottleneck.
        act (str): ``'relu'`` or ``'gelu'``. Defaults to ``'relu'``.
        act_after_up (bool): Apply the activation after the up-projection
            too, as VLSM-Adapter does. Defaults to True.
        zero_init (bool): Zero the up-projection. Defaults to False.
        learnable_scale (bool): Scale the branch by a trainable scalar.
            Defaults to False.
    """

    def __init__(self,
                 embed_dims: int,
                 hidden_dims: int,
                 act: str = 'relu',
                 act_after_up: bool = True,
                 zero_init: bool = False,
                 learnable_scale: bool = False):
        super().__init__()
        if act not in ACTIVATIONS:
            raise ValueError(f'act must be one of {sorted(ACTIVATIONS)}, got '
                             f'{act!r}.')
        self.embed_dims = embed_dims
        self.hidden_dims = hidden_dims
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.fc2 = nn.Linear(hidden_dims, embed_dims)
        self.act = ACTIVATIONS[act]()
        self.act_after_up = act_after_up
        if zero_init:
            nn.init.zeros_(self.fc2.weight)
            nn.init.zeros_(self.fc2.bias)
        self.scale = nn.Parameter(torch.ones(())) if learnable_scale else None

    def delta(self, x: Tensor) -> Tensor:
        """The adapter's branch alone, ``y - x``."""
        h = self.fc2(self.act(self.fc1(x)))
        if self.act_after_up:
            h = self.act(h)
        return h if self.scale is None else self.scale * h

    def forward(self, x: Tensor) -> Tensor:
        """Adapt features of shape (..., embed_dims)."""
        return x + self.delta(x)

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, '
                f'hidden_dims={self.hidden_dims}, '
                f'act_after_up={self.act_after_up}')
