# Copyright (c) OpenMMLab. All rights reserved.
import json

import pytest

from mmvlsm.datasets import MultiClassSliceDataset, load_slice_annotations
from mmvlsm.registry import DATASETS
from .conftest import SLICE_CLASSES as CLASSES
from .conftest import write_slices


@pytest.fixture
def organs_root(tmp_path):
    return write_slices(tmp_path / 'organs')[0]


def test_training_infos(organs_root):
    dataset = MultiClassSliceDataset(organs_root, active_classes=[2, 1])
    assert len(dataset) == 3
    info = dataset.get_data_info(1)
    assert info['img_path'].endswith('organs/images/s1_001.png')
    assert info['seg_map_path'].endswith('organs/masks/s1_001.png')
    assert (info['subject'], info['slice'], info['labels']) == ('s1', 1,
                                                                [1, 2])
    assert info['candidate_classes'] == [2, 1]
    assert 'active_class' not in info
    assert info['dataset_name'] == 'organs'
    assert info['seg_fields'] == [] and info['reduce_zero_label'] is False
    assert dataset.metainfo['classes'] == tuple(CLASSES)
    assert dataset.metainfo['dataset_name'] == 'organs'
    # Default: every foreground class.
    assert MultiClassSliceDataset(organs_root).get_data_info(
        0)['candidate_classes'] == [1, 2, 3]


def test_expanded_infos(organs_root):
    dataset = DATASETS.build(
        dict(
            type='MultiClassSliceDataset',
            data_root=organs_root,
            active_classes=[1, 3],
            expand_classes=True,
            test_mode=True))
    assert len(dataset) == 6
    infos = [dataset.get_data_info(i) for i in range(6)]
    assert [(i['slice'], i['active_class']) for i in infos] == [(0, 1), (0, 3),
                                                                (1, 1), (1, 3),
                                                                (2, 1), (2, 3)]
    assert [i['dataset_name']
            for i in infos[:2]] == ['organs-liver', 'organs-kidney']
    assert all(i['candidate_classes'] == [i['active_class']] for i in infos)
    named = MultiClassSliceDataset(
        organs_root, expand_classes=True, dataset_name='ct', indices=2)
    assert [i['dataset_name'] for i in named] == ['ct-liver', 'ct-spleen']


@pytest.mark.parametrize(
    'active_classes, message',
    [([0, 1], r'hold \[0\].*0: background, 1: liver, 2: spleen, 3: kidney'),
     ([4], r'hold \[4\], which are not foreground classes'),
     ([], 'non-empty list'), ([1, 1], 'distinct'), ('1', 'non-empty list'),
     ([True], 'non-empty list')])
def test_bad_active_classes(organs_root, active_classes, message):
    with pytest.raises(ValueError, match=message):
        MultiClassSliceDataset(organs_root, active_classes=active_classes)


@pytest.mark.parametrize(
    'change, message',
    [(lambda c: c['data_list'][1].pop('subject'),
      r"Record 1 of .*train.json lacks \['subject'\]"),
     (lambda c: c['data_list'][2].update(labels=[1, 4]),
      r'Record 2 of .*labels must be a list of class indices in \[0, 3\]'),
     (lambda c: c['data_list'][0].update(slice=-1),
      'Record 0 of .*slice must be an int >= 0'),
     (lambda c: c['data_list'][0].update(img_name=''),
      'Record 0 of .*img_name must be a non-empty string'),
     (lambda c: c['data_list'].append('s1_000.png'), 'Record 3 of .*is a str'),
     (lambda c: c['metainfo'].update(classes=['background']),
      'metainfo.classes must be a list of at least two'),
     (lambda c: c.pop('metainfo'), 'must hold a JSON object with'),
     (lambda c: c['data_list'].clear(), 'holds no records')])
def test_malformed_annotations(tmp_path, change, message):
    root, content = write_slices(tmp_path / 'organs')
    change(content)
    (tmp_path / 'organs' / 'anns' / 'train.json').write_text(
        json.dumps(content))
    with pytest.raises(ValueError, match=message):
        MultiClassSliceDataset(root)


def test_missing_files_and_metainfo(tmp_path):
    root, _ = write_slices(tmp_path / 'organs')
    with pytest.raises(ValueError, match='differ from those of'):
        MultiClassSliceDataset(root, metainfo=dict(classes=('bg', 'liver')))
    with pytest.raises(FileNotFoundError, match='Annotation file not found'):
        MultiClassSliceDataset(root, ann_file='anns/val.json')
    (tmp_path / 'organs' / 'anns' / 'broken.json').write_text('{')
    with pytest.raises(ValueError, match='broken.json is not UTF-8 JSON'):
        load_slice_annotations(str(tmp_path / 'organs/anns/broken.json'))
    (tmp_path / 'organs' / 'masks' / 's1_002.png').unlink()
    with pytest.raises(
            FileNotFoundError, match='Mask of record 2 of .* not found'):
        MultiClassSliceDataset(root)
