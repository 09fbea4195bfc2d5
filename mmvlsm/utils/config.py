# Copyright (c) OpenMMLab. All rights reserved.
"""Completing configs with what the model implies."""
from typing import Iterator, List

from mmengine.config import Config

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
TOKENIZE_TYPES = ('TokenizePrompt', 'mmvlsm.TokenizePrompt')


def _pipelines(dataset_cfg: dict) -> Iterator[List[dict]]:
    """Every pipeline of a dataset config, wrapped datasets included."""
    if not isinstance(dataset_cfg, dict):
        return
    if isinstance(dataset_cfg.get('pipeline'), list):
        yield dataset_cfg['pipeline']
    yield from _pipelines(dataset_cfg.get('dataset'))
    for member in dataset_cfg.get('datasets') or []:
        yield from _pipelines(member)


def bind_prompt_tokenizer(cfg: Config) -> Config:
    """Give every ``TokenizePrompt`` step the model's tokenizer.

    Dataset configs are shared by models with different tokenizers, so
    their pipelines hold ``dict(type='TokenizePrompt')`` without arguments.
    This fills ``tokenizer`` and ``context_length`` of each such step, in
    every dataloader, from ``cfg.model`` (via the model class's
    ``prompt_tokenizer_cfg``); values a config sets are kept. The tools and
    :func:`mmvlsm.apis.init_model` call it; call it yourself before
    ``Runner.from_cfg`` in your own scripts.

    Args:
        cfg (Config): The config, changed in place.

    Returns:
        Config: ``cfg``.
    """
    from mmvlsm.registry import MODELS
    model_cls = MODELS.get(cfg.model['type']) if 'model' in cfg else None
    if not hasattr(model_cls, 'prompt_tokenizer_cfg'):
        return cfg
    tokenizer, context_length = model_cls.prompt_tokenizer_cfg(cfg.model)
    for loader in DATALOADERS:
        for pipeline in _pipelines((cfg.get(loader) or {}).get('dataset')):
            for step in pipeline:
                if step.get('type') not in TOKENIZE_TYPES:
                    continue
                if step.get('tokenizer') is None:
                    step['tokenizer'] = tokenizer
                if step.get('context_length') is None:
                    step['context_length'] = context_length
    return cfg


def static_token_shapes_for_compile(cfg: Config) -> Config:
    """Keep token batches at one length when the train step is compiled.

    ``VLSMDataPreProcessor`` trims each token batch to its longest prompt,
    so the text length changes from batch to batch. Under ``compile``
    (mmengine compiles ``train_step``) that shape would make
    torch.compile recompile with dynamic shapes, which inductor's backward
    fails on (torch 2.14); padded to ``context_length`` the graph is
    compiled once. An explicit ``trim_tokens`` is kept.

    Args:
        cfg (Config): The config, changed in place.

    Returns:
        Config: ``cfg``.
    """
    preprocessor = cfg.get('model', {}).get('data_preprocessor')
    if (cfg.get('compile') and preprocessor
            and preprocessor.get('type') == 'VLSMDataPreProcessor'):
        preprocessor.setdefault('trim_tokens', False)
    return cfg
