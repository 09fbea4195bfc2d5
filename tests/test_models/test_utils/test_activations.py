# Copyright (c) OpenMMLab. All rights reserved.
import torch
from transformers.activations import QuickGELUActivation

from mmvlsm.models.utils.activations import QuickGELU, replace_quick_gelu


def test_quick_gelu_equals_transformers_with_and_without_autograd():
    x = torch.randn(4, 7, 33)
    reference = QuickGELUActivation()
    ours = QuickGELU()
    with torch.no_grad():
        kept = x.clone()
        assert torch.equal(ours(x), reference(x))
        assert torch.equal(x, kept)  # the input is left alone
    x.requires_grad_(True)
    out = ours(x)
    out.sum().backward()
    grad = x.grad.clone()
    x.grad = None
    reference(x).sum().backward()
    assert torch.equal(out, reference(x))
    assert torch.equal(grad, x.grad)


def test_replace_quick_gelu_in_a_nested_model():
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 3), QuickGELUActivation(),
        torch.nn.Sequential(QuickGELUActivation(), torch.nn.ReLU()))
    assert replace_quick_gelu(model) == 2
    assert isinstance(model[1], QuickGELU)
    assert isinstance(model[2][0], QuickGELU)
    assert isinstance(model[2][1], torch.nn.ReLU)
