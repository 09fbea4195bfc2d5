# Copyright (c) OpenMMLab. All rights reserved.
"""Key mapping of upstream PUNet (marcdcfischer/PUNet) checkpoints."""
import pytest
import torch

from mmvlsm.models.utils import (add_depth_axis, drop_depth_axis,
                                 mmvlsm_to_punet, punet_to_mmvlsm)
from mmvlsm.models.utils.pswin import HeterogeneousBias
from mmvlsm.models.utils.punet_checkpoint import (architecture_differences,
                                                  mmvlsm_punet_architecture,
                                                  upstream_punet_architecture)
from test_tools.test_punet_converter import (fixture_model,
                                             upstream_state_dict)


@pytest.mark.parametrize('case', ['2d', '3d_w444', '3d_w662'])
def test_upstream_to_mmvlsm_and_back_is_identity(case):
    upstream, _ = upstream_state_dict(case)
    converted, derived = punet_to_mmvlsm(upstream)
    assert len(derived) == 54
    back = mmvlsm_to_punet(converted)
    assert sorted(back) == sorted(upstream)
    for key, value in upstream.items():
        assert torch.equal(back[key], value), key


def test_mmvlsm_to_upstream_and_back_is_identity():
    model = fixture_model()
    student = {
        k: v
        for k, v in model.state_dict().items() if not k.startswith('teacher.')
    }
    converted, _ = punet_to_mmvlsm(mmvlsm_to_punet(add_depth_axis(student)))
    converted = drop_depth_axis(converted)
    assert sorted(converted) == sorted(student)
    for key, value in student.items():
        assert torch.equal(converted[key], value), key


def test_relative_position_tables_keep_their_bias():
    """Upstream's bias of query n and key m, table[distances[n, m]], is
    mmvlsm's after the conversion."""
    upstream, _ = upstream_state_dict('2d')
    prefix = 'sia_res_blocks.1.sia.attention_scores.0.'
    converted, _ = punet_to_mmvlsm(upstream)
    bias = HeterogeneousBias(2, (4, 4), num_classes=5, num_tokens=4)
    ours = 'backbone.levels.1.pswin.biases.0.'
    bias.load_state_dict({
        k[len(ours):]: v
        for k, v in converted.items() if k.startswith(ours)
    })
    scores = [
        torch.einsum(
            'hc,nmc->hnm', upstream[f'{prefix}weights_content_{a}'],
            upstream[f'{prefix}encoding_content_{a}'][
                upstream[f'{prefix}relative_distances_{a}']]) for a in 'hwd'
    ]
    expected = (scores[0][:, :, None, :, None] + scores[1][:, None, :, None, :]
                + scores[2][:, :, :, None, None]) / 3 * 32**-0.5
    torch.testing.assert_close(
        bias.content_bias((4, 4)), expected.reshape(2, 16, 16))


def test_unknown_keys_and_deep_kernels_are_named():
    with pytest.raises(ValueError, match='backbone.visual.conv1.weight'):
        punet_to_mmvlsm({'backbone.visual.conv1.weight': torch.zeros(1)})
    converted, _ = punet_to_mmvlsm(upstream_state_dict('3d_w662')[0])
    with pytest.raises(ValueError, match='backbone.stem.conv1.weight'):
        drop_depth_axis(converted)


def test_architecture_differences_are_named():
    _, hparams = upstream_state_dict('2d')
    model = fixture_model()
    ours = mmvlsm_punet_architecture(model)
    assert architecture_differences(
        upstream_punet_architecture(hparams), ours) == []
    other = dict(
        hparams,
        attn_window_size=[8, 8, 1],
        prompting_variant='start',
        fixed_output=True)
    assert architecture_differences(
        upstream_punet_architecture(other), ours) == [
            'window: upstream (8, 8, 1), mmvlsm (4, 4, 1)',
            'prompted: upstream (True, False, False, False, False, False, '
            'False, False, False), mmvlsm (True, True, True, True, True, '
            'True, True, True, True)',
            'fixed_output: upstream True, mmvlsm False'
        ]
