# Copyright (c) OpenMMLab. All rights reserved.
"""mmvlsm's registries: one tree per task, chosen by a config's scope.

Segmentation configs set ``default_scope = 'mmvlsm'``: their types are looked
up in :mod:`.segmentation`, whose nodes are children of mmseg's.
Classification configs set ``default_scope = 'mmvlsm_cls'``: their types are
looked up in :mod:`.classification`, whose nodes are children of
mmpretrain's. The names exported here are the segmentation nodes, the ones
most modules register in.
"""
from types import ModuleType

from . import classification, segmentation
from .segmentation import (DATA_SAMPLERS, DATASETS, EVALUATOR, HOOKS,
                           INFERENCERS, LOG_PROCESSORS, LOOPS, METRICS,
                           MODEL_WRAPPERS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS,
                           OPTIM_WRAPPERS, OPTIMIZERS, PARAM_SCHEDULERS,
                           RUNNER_CONSTRUCTORS, RUNNERS, TASK_UTILS,
                           TRANSFORMS, VISBACKENDS, VISUALIZERS,
                           WEIGHT_INITIALIZERS)

# default_scope -> task.
TASKS = {
    segmentation.SCOPE: 'segmentation',
    classification.SCOPE: 'classification'
}


def task_registries(scope: str) -> ModuleType:
    """The module holding the registry nodes of ``scope``.

    Args:
        scope (str): A config's ``default_scope``.

    Returns:
        module: :mod:`.segmentation` or :mod:`.classification`.
    """
    if scope not in TASKS:
        raise ValueError(f'default_scope must be one of {list(TASKS)}, got '
                         f'{scope!r}')
    return classification if TASKS[scope] == 'classification' else (
        segmentation)


__all__ = [
    'DATA_SAMPLERS', 'DATASETS', 'EVALUATOR', 'HOOKS', 'INFERENCERS',
    'LOG_PROCESSORS', 'LOOPS', 'METRICS', 'MODEL_WRAPPERS', 'MODELS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'OPTIM_WRAPPERS', 'OPTIMIZERS',
    'PARAM_SCHEDULERS', 'RUNNER_CONSTRUCTORS', 'RUNNERS', 'TASK_UTILS',
    'TRANSFORMS', 'VISBACKENDS', 'VISUALIZERS', 'WEIGHT_INITIALIZERS', 'TASKS',
    'classification', 'segmentation', 'task_registries'
]
