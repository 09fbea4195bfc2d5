# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.runner import save_checkpoint

from mmvlsm.apis import inference_model, init_model

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'quickstart',
                  'clipseg-tiny_1xb16-1000it_toy-shapes-128x128.py')


def test_init_model_loads_checkpoint_and_segments_by_text(tmp_path):
    torch.manual_seed(0)
    trained = init_model(CONFIG)
    ckpt = tmp_path / 'model.pth'
    save_checkpoint({'state_dict': trained.state_dict()}, str(ckpt))

    torch.manual_seed(1)
    model = init_model(CONFIG, str(ckpt))
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value)
    assert not model.training

    img = np.random.RandomState(0).randint(0, 255, (96, 150, 3), np.uint8)
    path = str(tmp_path / 'img.png')
    cv2.imwrite(path, img)
    from_file = inference_model(model, path, 'red circle')
    from_array = inference_model(model, img, 'red circle')
    other_text = inference_model(model, img, 'blue square on the left')

    # At the original size, binary, and the same for a path or an array.
    assert from_file.pred_sem_seg.data.shape == (1, 96, 150)
    assert set(from_file.pred_sem_seg.data.unique().tolist()) <= {0, 1}
    torch.testing.assert_close(from_file.seg_logits.data,
                               from_array.seg_logits.data)
    assert from_file.text == 'red circle'
    # The prompt reaches the model.
    assert not torch.allclose(from_array.seg_logits.data,
                              other_text.seg_logits.data)
