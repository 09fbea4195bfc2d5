# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.structures import PixelData
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.structures import SegDataSample

from mmvlsm.models import VLSMDataPreProcessor

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def _batch(num=3, size=(6, 5), lengths=(4, 2, 3), context_length=8):
    generator = torch.Generator().manual_seed(0)
    items = []
    for i in range(num):
        sample = SegDataSample(metainfo=dict(text=f'prompt {i}'))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 2, (1, ) + size, generator=generator))
        ids = torch.full((context_length, ), 7)
        ids[:lengths[i]] = torch.arange(1, lengths[i] + 1)
        mask = torch.zeros(context_length, dtype=torch.long)
        mask[:lengths[i]] = 1
        sample.set_data(dict(input_ids=ids, attention_mask=mask))
        img = torch.randint(
            0, 256, (3, ) + size, generator=generator, dtype=torch.uint8)
        items.append(dict(inputs=img, data_samples=sample))
    return items


@pytest.mark.parametrize('collate', [pseudo_collate, default_collate])
def test_images_equal_mmseg_preprocessor(collate):
    items = _batch()
    ours = VLSMDataPreProcessor(mean=MEAN, std=STD, bgr_to_rgb=True)
    mmseg = SegDataPreProcessor(mean=MEAN, std=STD, bgr_to_rgb=True)
    expected = mmseg(pseudo_collate(items), training=False)['inputs']
    out = ours(collate(items), training=True)
    assert out['inputs'].dtype == torch.float32
    assert out['inputs'].shape == (3, 3, 6, 5)
    torch.testing.assert_close(out['inputs'], expected, rtol=0, atol=0)


def test_tokens_are_trimmed_to_the_longest_prompt():
    out = VLSMDataPreProcessor()(pseudo_collate(_batch()))
    samples = out['data_samples']
    assert [s.input_ids.tolist() for s in samples] == [[1, 2, 3, 4],
                                                       [1, 2, 7, 7],
                                                       [1, 2, 3, 7]]
    assert [s.attention_mask.tolist() for s in samples] == [[1, 1, 1, 1],
                                                            [1, 1, 0, 0],
                                                            [1, 1, 1, 0]]


def test_float_input_is_not_changed_in_place():
    inputs = torch.full((1, 3, 2, 2), 200.0)
    out = VLSMDataPreProcessor(
        mean=MEAN, std=STD)(
            dict(inputs=inputs, data_samples=None))
    assert torch.all(inputs == 200.0)
    assert not torch.equal(out['inputs'], inputs)


def test_samples_without_tokens_pass_through():
    items = _batch()
    for item in items:
        del item['data_samples'].input_ids
        del item['data_samples'].attention_mask
    out = VLSMDataPreProcessor()(pseudo_collate(items))
    assert all('input_ids' not in s for s in out['data_samples'])


def test_images_of_different_sizes_are_refused():
    items = _batch()
    items[1]['inputs'] = items[1]['inputs'][:, :4]
    with pytest.raises(ValueError, match=r'different shapes .*resize'):
        VLSMDataPreProcessor()(pseudo_collate(items))


def test_mean_without_std_is_refused():
    with pytest.raises(ValueError, match='both `mean` and `std`'):
        VLSMDataPreProcessor(mean=MEAN)
