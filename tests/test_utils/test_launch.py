# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
from argparse import ArgumentParser

import pytest
import torch
from mmengine.config import Config

from mmvlsm.utils.launch import (add_launch_args, enable_amp,
                                 load_launch_config, parse_option_value)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'quickstart',
                  'clipseg-tiny_1xb16-650it_toy-shapes-128x128.py')


def _parse(*argv):
    parser = ArgumentParser()
    add_launch_args(parser)
    return parser.parse_args(list(argv))


def _load(*options, allow_new=False):
    args = _parse('--cfg-options', *options)
    args.config, args.work_dir = CONFIG, None
    args.cfg_options_allow_new = allow_new
    return load_launch_config(args)


@pytest.mark.parametrize('text, value', [
    ('1', 1),
    ('0.5', 0.5),
    ('True', True),
    ('false', False),
    ('None', None),
    ('', ''),
    ('a photo of a {}', 'a photo of a {}'),
    ('a,b', ['a', 'b']),
    ('a,', ['a']),
    ('[a red circle, blue square]', ['a red circle', 'blue square']),
    ('[]', []),
    ('(1,2)', (1, 2)),
    ('[(1, 2), [a, b], c]', [(1, 2), ['a', 'b'], 'c']),
    ('"one pink, round polyp"', 'one pink, round polyp'),
    ("'1'", '1'),
    ("['a, b', c]", ['a, b', 'c']),
])
def test_parse_option_value(text, value):
    assert parse_option_value(text) == value
    assert type(parse_option_value(text)) is type(value)


def test_values_with_spaces_reach_the_config_unchanged():
    args = _parse('--cfg-options',
                  'test_dataloader.dataset.override_prompt=a red circle',
                  "model.text_template='{}, seen from above'")
    assert args.cfg_options == {
        'test_dataloader.dataset.override_prompt': 'a red circle',
        'model.text_template': '{}, seen from above'
    }
    with pytest.raises(SystemExit):
        _parse('--cfg-options', 'model.test_cfg')  # no '='
    with pytest.raises(SystemExit):
        _parse('--cfg-options', 'a=[1,2')


@pytest.mark.parametrize('key, closest', [
    ('model.test_cfg.treshold', 'model.test_cfg.threshold'),
    ('test_dataloder.batch_size', 'test_dataloader.batch_size'),
    ('test_dataloader.dataset.prompt_typ', 'test_dataloader.dataset.'
     'prompt_type'),
    ('train_dataloader.dataset.pipeline.1.mask_label',
     'train_dataloader.dataset.pipeline.1.mask_labels'),
])
def test_unknown_key_is_refused_with_the_closest(key, closest):
    with pytest.raises(ValueError) as err:
        _load(f'{key}=1')
    msg = str(err.value)
    assert f"'{key}' is not in the config" in msg
    assert f"Did you mean '{closest}'?" in msg
    assert '--cfg-options-allow-new' in msg
    # The escape hatch adds it.
    cfg = _load(f'{key}=1', allow_new=True)
    assert cfg[key.split('.')[0]] is not None


@pytest.mark.parametrize('key', [
    'train_dataloader.dataset.pipeline.9.type',
    'model.test_cfg.threshold.value',
])
def test_bad_index_or_key_below_a_value(key):
    with pytest.raises(ValueError, match='is not in the config'):
        _load(f'{key}=1')


def test_existing_keys_indices_and_builder_arguments_pass(tmp_path):
    cfg = _load(
        # Keys of the config and of its _base_ files, list indices.
        f'train_dataloader.dataset.data_root={tmp_path}',
        'train_cfg.max_iters=4',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
        'test_dataloader.persistent_workers=False',
        'train_dataloader.dataset.pipeline.0.type=LoadCheckedImageFromFile',
        # Arguments of the types the dicts build.
        'test_dataloader.dataset.override_prompt=a red circle',
        'train_dataloader.dataset.pipeline.1.mask_labels=[1,2]',
        'train_dataloader.dataset.pipeline.0.depth_scaling=dtype',
        'model.freeze_text=True',
        'test_dataloader.drop_last=False',  # DataLoader
        'experiment_name=tiny',  # Runner
        'compile=True',  # read by the Runner from the config
        'model.data_preprocessor.trim_tokens=True',
    )
    assert cfg.test_dataloader.dataset.override_prompt == 'a red circle'
    assert cfg.compile is True
    # An explicit trim_tokens wins over the one `compile` implies.
    assert cfg.model.data_preprocessor.trim_tokens is True
    assert cfg.train_dataloader.dataset.pipeline[1].mask_labels == [1, 2]
    assert cfg.train_dataloader.dataset.pipeline[0].type == \
        'LoadCheckedImageFromFile'
    assert cfg.model.freeze_text is True


def test_quiet_and_allow_new_default_off():
    args = _parse()
    assert args.quiet is False and args.cfg_options_allow_new is False
    assert _parse('--quiet').quiet is True


def _optim_cfg(**wrapper):
    return Config(
        dict(optim_wrapper=dict(optimizer=dict(type='SGD'), **wrapper)))


@pytest.mark.parametrize('flag,dtype', [('fp16', 'float16'),
                                        ('bf16', 'bfloat16')])
def test_amp_dtype(flag, dtype):
    cfg = _optim_cfg(type='OptimWrapper')
    enable_amp(cfg, flag)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == dtype
    assert cfg.optim_wrapper.loss_scale == 'dynamic'


def test_amp_auto_picks_bf16_only_where_supported(monkeypatch):
    for supported, dtype in ((True, 'bfloat16'), (False, 'float16')):
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
        monkeypatch.setattr(
            torch.cuda,
            'is_bf16_supported',
            lambda supported=supported: supported)
        cfg = _optim_cfg()
        enable_amp(cfg)
        assert cfg.optim_wrapper.dtype == dtype


def test_amp_refuses_other_wrappers_and_dtypes():
    with pytest.raises(ValueError, match='OptimWrapper or AmpOptimWrapper'):
        enable_amp(_optim_cfg(type='MyWrapper'), 'fp16')
    with pytest.raises(ValueError, match="'fp8'"):
        enable_amp(_optim_cfg(), 'fp8')
