# Copyright (c) OpenMMLab. All rights reserved.
import filecmp
import glob
import json
import os
import os.path as osp
import re

import pytest
from mmengine.dataset import ConcatDataset

from mmvlsm.datasets import MedVLSMDataset, load_medvlsm_annotations
from mmvlsm.registry import DATASETS
from .conftest import REPO, make_record, write_dataset

# Records per split and the highest prompt key, from the reference README
# and medvlsm's DATASETS.MD.
SHIPPED = {
    'kvasir_polyp': (dict(train=800, val=100, test=100, testB=100), 9),
    'clinicdb_polyp': (dict(train=490, val=61, test=61), 9),
    'bkai_polyp': (dict(train=800, val=100, test=100), 9),
    'cvc300_polyp': (dict(train=20, val=0, test=360), 9),
    'colondb_polyp': (dict(train=20, val=0, test=360), 9),
    'etis_polyp': (dict(train=20, val=0, test=176, testB=176), 9),
    'isic': (dict(train=810, val=90, test=379), 9),
    'dfu': (dict(train=1600, val=200, test=200), 9),
    'camus': (dict(val=600, test=600), 7),
    'busi': (dict(train=624, val=78, test=78), 6),
    'chexlocalize': (dict(train=1279, val=446, test=452), 6),
}


def _shipped(ds, split):
    return osp.join(REPO, 'data', ds, 'anns', f'{split}.json')


def test_every_shipped_annotation_file_parses():
    # The medvlsm datasets the repository ships (generated toy data and
    # other formats may sit next to them).
    paths = sorted(
        path for ds in SHIPPED
        for path in glob.glob(osp.join(REPO, 'data', ds, 'anns', '*.json')))
    found = {}
    for path in paths:
        ds = path.split(osp.sep)[-3]
        found.setdefault(ds, {})[osp.basename(path)[:-5]] = \
            load_medvlsm_annotations(path)
    assert set(SHIPPED) <= set(found)
    for ds, (counts, last_key) in SHIPPED.items():
        assert {split: len(recs) for split, recs in found[ds].items()} == \
            counts, ds
        keys = [f'p{k}' for k in range(last_key + 1)]
        for records in found[ds].values():
            for record in records:
                assert list(record['prompts']) == keys, ds
                assert record['prompts']['p0'] == ''


def test_shipped_quirks():
    # CAMUS: no train.json; records are image x structure with a sub-folder.
    assert not osp.exists(_shipped('camus', 'train'))
    camus = load_medvlsm_annotations(_shipped('camus', 'test'))
    assert all(set(r) == {'img_name', 'mask_name', 'prompts'} for r in camus)
    assert {r['mask_name'].split('/')[0] for r in camus} == \
        {'mask_1', 'mask_2', 'mask_3'}
    # The cvc300 files are ColonDB's (an upstream release bug, shipped).
    for split in ('train', 'val', 'test'):
        assert filecmp.cmp(
            _shipped('cvc300_polyp', split),
            _shipped('colondb_polyp', split),
            shallow=False)
    # BUSI normals: empty masks, a degenerate bbox, one fixed prompt.
    for split, n_normal in dict(train=107, val=13, test=13).items():
        normals = [
            r for r in load_medvlsm_annotations(_shipped('busi', split))
            if r['img_name'].endswith('_normal.png')
        ]
        assert len(normals) == n_normal
        for r in normals:
            assert r['bbox'][2:] == [0, 0]
            assert r['prompts']['p1'] == \
                'No tumor in the breast ultrasound image.'
    assert not any('bbox' in r
                   for r in load_medvlsm_annotations(_shipped('dfu', 'train')))
    kvasir = load_medvlsm_annotations(_shipped('kvasir_polyp', 'train'))
    assert all(r['mask_name'].endswith('.jpg') for r in kvasir)
    assert kvasir[0]['prompts']['p1'] == 'polyp'
    assert len(kvasir[0]['prompts']['p7']) == 5


def test_data_info_and_metainfo(tiny_root):
    ds = MedVLSMDataset(data_root=tiny_root, prompt_type='p2')
    assert len(ds) == 3
    assert ds.metainfo['classes'] == ('background', 'foreground')
    assert ds.metainfo['dataset_name'] == 'tiny'
    info = ds.get_data_info(1)
    assert info['img_path'] == osp.join(tiny_root, 'images', 'img_1.png')
    assert info['seg_map_path'] == osp.join(tiny_root, 'masks', 'img_1.png')
    assert info['img_name'] == info['mask_name'] == 'img_1.png'
    assert info['dataset_name'] == 'tiny'
    assert info['seg_fields'] == [] and info['reduce_zero_label'] is False
    assert info['sample_idx'] == 1
    assert info['prompt_key'] == 'p2' and info['text'] == 'round polyp'
    assert info['prompts'] == make_record(1)['prompts']

    named = DATASETS.build(
        dict(
            type='MedVLSMDataset',
            data_root=tiny_root + '/',
            dataset_name='renamed',
            indices=2))
    assert len(named) == 2
    assert named.metainfo['dataset_name'] == 'renamed'
    assert named[0]['dataset_name'] == 'renamed'
    # The default name survives a trailing slash.
    assert MedVLSMDataset(tiny_root + '/').dataset_name == 'tiny'


def test_random_prompt_never_p0_and_varies(tiny_root):
    ds = MedVLSMDataset(data_root=tiny_root, prompt_type='random')
    picks = [ds.get_data_info(0) for _ in range(200)]
    assert {p['prompt_key'] for p in picks} == {'p1', 'p2', 'p3'}
    # p3's two phrasings are both drawn in training.
    assert {p['text']
            for p in picks} == {
                'polyp', 'round polyp', 'polyp on the left',
                'a polyp on the left side'
            }


def test_random_prompt_reproducible_in_test_mode(tmp_path):
    root = write_dataset(tmp_path / 'many',
                         [make_record(i) for i in range(40)])
    ds = MedVLSMDataset(root, prompt_type='random', test_mode=True)
    first = [ds.get_data_info(i)['prompt_key'] for i in range(40)]
    again = MedVLSMDataset(root, prompt_type='random', test_mode=True)
    assert [again.get_data_info(i)['prompt_key'] for i in range(40)] == first
    assert [ds[i]['prompt_key'] for i in range(40)] == first
    assert set(first) == {'p1', 'p2', 'p3'}
    reseeded = MedVLSMDataset(
        root, prompt_type='random', test_mode=True, prompt_seed=1)
    assert [reseeded.get_data_info(i)['prompt_key']
            for i in range(40)] != first
    # A list value is fixed to its first phrasing at test time.
    texts = {ds.get_data_info(i)['text'] for i in range(40)}
    assert texts == {'polyp', 'round polyp', 'polyp on the left'}


def test_list_of_keys(tiny_root):
    ds = MedVLSMDataset(tiny_root, prompt_type=['p1', 'p2'])
    keys = {ds.get_data_info(0)['prompt_key'] for _ in range(100)}
    assert keys == {'p1', 'p2'}
    ds = MedVLSMDataset(tiny_root, prompt_type=('p1', 'p2'), test_mode=True)
    assert len({ds.get_data_info(0)['prompt_key'] for _ in range(20)}) == 1


def test_list_valued_prompt_sampled_in_train_fixed_in_test(tiny_root):
    train = MedVLSMDataset(tiny_root, prompt_type='p3')
    assert {train.get_data_info(0)['text'] for _ in range(100)} == \
        {'polyp on the left', 'a polyp on the left side'}
    test = MedVLSMDataset(tiny_root, prompt_type='p3', test_mode=True)
    assert {test.get_data_info(0)['text'] for _ in range(20)} == \
        {'polyp on the left'}


def test_override_prompt(tiny_root):
    # The override wins even over a key the records do not have.
    ds = MedVLSMDataset(
        tiny_root, prompt_type='p7', override_prompt='a lesion')
    info = ds.get_data_info(2)
    assert info['text'] == 'a lesion' and info['prompt_key'] == 'override'


def test_unknown_prompt_key(tiny_root):
    ann = osp.join(tiny_root, 'anns', 'train.json')
    with pytest.raises(ValueError) as err:
        MedVLSMDataset(tiny_root, prompt_type='p7')
    msg = str(err.value)
    assert 'Record 0' in msg and ann in msg and "'p7'" in msg
    assert "['p0', 'p1', 'p2', 'p3']" in msg
    with pytest.raises(ValueError, match=r"\['p9'\]"):
        MedVLSMDataset(tiny_root, prompt_type=['p1', 'p9'])


def test_random_needs_a_nonempty_key(tmp_path):
    root = write_dataset(tmp_path / 'only_p0', [make_record(0, p0='')])
    with pytest.raises(ValueError, match='no prompt other than'):
        MedVLSMDataset(root, prompt_type='random')


@pytest.mark.parametrize('prompt_type', ['', [], ['p1', 'random'], 3])
def test_bad_prompt_type(tiny_root, prompt_type):
    with pytest.raises(ValueError, match='prompt_type'):
        MedVLSMDataset(tiny_root, prompt_type=prompt_type)


@pytest.mark.parametrize(
    'content, message',
    [('', 'is empty'), ('  \n', 'is empty'),
     ('[{"img_name": ', 'not valid JSON'),
     ('{"img_name": "a.png"}', 'holds a dict at the top level'),
     ('[{"img_name": "a.png", "prompts": {}}]',
      r"Record 0 of .* lacks \['mask_name'\]"),
     ('[{"img_name": "a.png", "mask_name": "a.png", "prompts": {"p1": "x"}},'
      ' {"img_name": "b.png", "mask_name": "b.png", "prompts": ["x"]}]',
      'Record 1 of .*prompts must be a dict'),
     ('[{"img_name": "a.png", "mask_name": "a.png", "prompts": {"p1": 1}}]',
      "prompt 'p1' must be a string"),
     ('[{"img_name": "", "mask_name": "a.png", "prompts": {}}]',
      'img_name must be a non-empty string'),
     ('["a.png"]', 'Record 0 of .* is a str')])
def test_malformed_annotation_file(tmp_path, content, message):
    path = tmp_path / 'anns' / 'train.json'
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        load_medvlsm_annotations(str(path))
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match=message):
        MedVLSMDataset(str(tmp_path))


def test_annotation_file_not_utf8(tmp_path):
    root = write_dataset(tmp_path / 'latin1', [make_record(0, p1='pólipo')])
    path = osp.join(root, 'anns', 'train.json')
    content = json.dumps([make_record(0, p1='pólipo')], ensure_ascii=False)
    with open(path, 'wb') as f:
        f.write(content.encode('latin-1'))
    offset = content.index('ó')
    with pytest.raises(ValueError) as err:
        MedVLSMDataset(root)
    msg = str(err.value)
    assert path in msg and f'byte offset {offset}' in msg
    assert "b'\\xf3" in msg and 'UTF-8' in msg

    # A byte-order mark (Windows editors) is fine.
    with open(path, 'wb') as f:
        f.write(b'\xef\xbb\xbf' + content.encode('utf-8'))
    assert load_medvlsm_annotations(path)[0]['prompts']['p1'] == 'pólipo'


def test_missing_annotation_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='Annotation file not found'):
        load_medvlsm_annotations(str(tmp_path / 'nope.json'))
    with pytest.raises(
            FileNotFoundError,
            match=re.escape(str(tmp_path / 'anns' / 'val.json'))):
        MedVLSMDataset(str(tmp_path), ann_file='anns/val.json')


@pytest.mark.parametrize('folder, kind', [('images', 'Image'),
                                          ('masks', 'Mask')])
def test_missing_image_or_mask(tiny_root, folder, kind):
    missing = osp.join(tiny_root, folder, 'img_1.png')
    os.remove(missing)
    with pytest.raises(FileNotFoundError) as err:
        MedVLSMDataset(tiny_root)
    msg = str(err.value)
    assert msg.startswith(f'{kind} of record 1 of ')
    assert osp.join(tiny_root, 'anns', 'train.json') in msg
    assert missing in msg


def test_zero_records(tmp_path):
    root = write_dataset(tmp_path / 'empty', [], split='val')
    ann = osp.join(root, 'anns', 'val.json')
    assert load_medvlsm_annotations(ann) == []
    with pytest.raises(ValueError, match='holds no records'):
        MedVLSMDataset(root, ann_file='anns/val.json')
    # The shipped empty split: the error comes before any image is needed.
    with pytest.raises(
            ValueError,
            match=re.escape(osp.join('colondb_polyp', 'anns', 'val.json'))):
        MedVLSMDataset(
            osp.join(REPO, 'data', 'colondb_polyp'), ann_file='anns/val.json')
    # lazy_init defers the error to the first use.
    lazy = MedVLSMDataset(root, ann_file='anns/val.json', lazy_init=True)
    assert lazy.metainfo['dataset_name'] == 'empty'
    with pytest.raises(ValueError, match='holds no records'):
        len(lazy)


def test_concat_dataset_keeps_names(tmp_path):
    roots = [
        write_dataset(tmp_path / name, [make_record(i) for i in range(n)])
        for name, n in (('kvasir_polyp', 2), ('bkai_polyp', 3))
    ]
    datasets = [MedVLSMDataset(root, prompt_type='p1') for root in roots]
    with pytest.raises(ValueError, match='meta information'):
        ConcatDataset(datasets)
    concat = DATASETS.build(
        dict(
            type='ConcatDataset',
            ignore_keys=['dataset_name'],
            datasets=[
                dict(type='MedVLSMDataset', data_root=root, prompt_type='p1')
                for root in roots
            ]))
    assert len(concat) == 5
    assert [concat[i]['dataset_name'] for i in range(5)] == \
        ['kvasir_polyp'] * 2 + ['bkai_polyp'] * 3
    assert concat.get_data_info(4)['text'] == 'polyp'


def test_full_pipeline_packs_text(tiny_root):
    meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'flip',
                 'flip_direction', 'text', 'prompt_key', 'img_name',
                 'mask_name', 'dataset_name')
    ds = MedVLSMDataset(
        tiny_root,
        prompt_type='p3',
        test_mode=True,
        pipeline=[
            dict(type='LoadCheckedImageFromFile'),
            dict(type='Resize', scale=(16, 16), keep_ratio=False),
            dict(type='LoadBinaryMask'),
            dict(type='PackSegInputs', meta_keys=meta_keys)
        ])
    out = ds[0]
    meta = out['data_samples'].metainfo
    assert meta['text'] == 'polyp on the left'
    assert meta['prompt_key'] == 'p3' and meta['dataset_name'] == 'tiny'
    assert tuple(out['inputs'].shape) == (3, 16, 16)
    # The mask stays at the original size for scoring.
    gt = out['data_samples'].gt_sem_seg.data
    assert tuple(gt.shape) == (1, 6, 8)
    assert set(gt.unique().tolist()) == {0, 1}
    assert json.loads(json.dumps(meta['ori_shape'])) == [6, 8]
