# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp

from mmengine.config import Config

from mmvlsm.utils import bind_prompt_tokenizer, static_token_shapes_for_compile

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.dirname(__file__))), 'configs')


def _tokenize_steps(cfg):
    steps = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader]['dataset']
        for member in dataset.get('datasets', [dataset]):
            steps += [
                s for s in member['pipeline'] if s['type'] == 'TokenizePrompt'
            ]
    return steps


def test_pooled_datasets_get_the_pretrained_tokenizer():
    cfg = Config.fromfile(
        osp.join(CONFIGS, 'clipseg',
                 'clipseg-rd64-refined_1xb128_kvasir-polyp-352x352.py'))
    cfg.merge_from_dict(dict(model=dict(context_length=20)))
    cfg.train_dataloader.dataset = dict(
        type='ConcatDataset', datasets=[cfg.train_dataloader.dataset] * 2)
    steps = _tokenize_steps(bind_prompt_tokenizer(cfg))
    assert len(steps) == 4
    for step in steps:
        # CLIPSeg's tokenizer is the one of `pretrained` unless set.
        assert step['tokenizer'] == 'CIDAS/clipseg-rd64-refined'
        assert step['context_length'] == 20


def test_explicit_settings_are_kept_and_defaults_come_from_the_class():
    cfg = Config.fromfile(
        osp.join(CONFIGS, 'quickstart',
                 'clipseg-tiny_1xb16-650it_toy-shapes-128x128.py'))
    cfg.test_dataloader.dataset.pipeline[-2]['tokenizer'] = 'my/tokenizer'
    del cfg.model['context_length']
    bind_prompt_tokenizer(cfg)
    test_step = cfg.test_dataloader.dataset.pipeline[-2]
    assert test_step['tokenizer'] == 'my/tokenizer'
    assert test_step['context_length'] == 77
    train_step = cfg.train_dataloader.dataset.pipeline[-2]
    assert train_step['tokenizer'] == dict(type='openai_bpe')


def test_compile_keeps_token_batches_at_one_length():
    path = osp.join(CONFIGS, 'quickstart',
                    'clipseg-tiny_1xb16-650it_toy-shapes-128x128.py')
    cfg = static_token_shapes_for_compile(Config.fromfile(path))
    assert 'trim_tokens' not in cfg.model.data_preprocessor
    cfg.compile = dict(mode='max-autotune')
    static_token_shapes_for_compile(cfg)
    assert cfg.model.data_preprocessor.trim_tokens is False
