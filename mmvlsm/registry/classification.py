# Copyright (c) OpenMMLab. All rights reserved.
"""The classification registries: one child of each of mmpretrain's nodes.

Classification configs (CITE and its baselines) set
``default_scope = 'mmvlsm_cls'``. A type that mmvlsm does not define
(``ImageClassifier``, ``ClsDataPreprocessor``, ``PackInputs``,
``CrossEntropyLoss``, ...) is then looked up in mmpretrain's node and in
mmengine's root node, so mmpretrain's modules keep their plain names and
never meet mmseg's namesakes. The ``locations`` list the modules imported on
first use: ours, then mmpretrain's, because a child registry does not import
its parent's locations. mmengine imports ``mmvlsm_cls.registry`` to reach
these nodes by their scope; that module re-exports this one.
"""
from mmengine.registry import Registry
from mmpretrain.registry import DATA_SAMPLERS as MMPRETRAIN_DATA_SAMPLERS
from mmpretrain.registry import DATASETS as MMPRETRAIN_DATASETS
from mmpretrain.registry import EVALUATORS as MMPRETRAIN_EVALUATORS
from mmpretrain.registry import HOOKS as MMPRETRAIN_HOOKS
from mmpretrain.registry import LOG_PROCESSORS as MMPRETRAIN_LOG_PROCESSORS
from mmpretrain.registry import LOOPS as MMPRETRAIN_LOOPS
from mmpretrain.registry import METRICS as MMPRETRAIN_METRICS
from mmpretrain.registry import MODEL_WRAPPERS as MMPRETRAIN_MODEL_WRAPPERS
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.registry import OPTIM_WRAPPERS as MMPRETRAIN_OPTIM_WRAPPERS
from mmpretrain.registry import OPTIMIZERS as MMPRETRAIN_OPTIMIZERS
from mmpretrain.registry import PARAM_SCHEDULERS as MMPRETRAIN_PARAM_SCHEDULERS
from mmpretrain.registry import \
    RUNNER_CONSTRUCTORS as MMPRETRAIN_RUNNER_CONSTRUCTORS
from mmpretrain.registry import RUNNERS as MMPRETRAIN_RUNNERS
from mmpretrain.registry import TASK_UTILS as MMPRETRAIN_TASK_UTILS
from mmpretrain.registry import TRANSFORMS as MMPRETRAIN_TRANSFORMS
from mmpretrain.registry import VISBACKENDS as MMPRETRAIN_VISBACKENDS
from mmpretrain.registry import VISUALIZERS as MMPRETRAIN_VISUALIZERS
from mmpretrain.registry import \
    WEIGHT_INITIALIZERS as MMPRETRAIN_WEIGHT_INITIALIZERS

SCOPE = 'mmvlsm_cls'

RUNNERS = Registry(
    'runner',
    scope=SCOPE,
    parent=MMPRETRAIN_RUNNERS,
    locations=['mmpretrain.engine'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor',
    scope=SCOPE,
    parent=MMPRETRAIN_RUNNER_CONSTRUCTORS,
    locations=['mmpretrain.engine'])
LOOPS = Registry(
    'loop',
    scope=SCOPE,
    parent=MMPRETRAIN_LOOPS,
    locations=['mmpretrain.engine'])
HOOKS = Registry(
    'hook',
    scope=SCOPE,
    parent=MMPRETRAIN_HOOKS,
    locations=['mmvlsm.engine.hooks', 'mmpretrain.engine'])
LOG_PROCESSORS = Registry(
    'log processor',
    scope=SCOPE,
    parent=MMPRETRAIN_LOG_PROCESSORS,
    locations=['mmpretrain.engine'])

OPTIMIZERS = Registry(
    'optimizer',
    scope=SCOPE,
    parent=MMPRETRAIN_OPTIMIZERS,
    locations=['mmpretrain.engine'])
OPTIM_WRAPPERS = Registry(
    'optimizer wrapper',
    scope=SCOPE,
    parent=MMPRETRAIN_OPTIM_WRAPPERS,
    locations=['mmpretrain.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    scope=SCOPE,
    parent=MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmpretrain.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    scope=SCOPE,
    parent=MMPRETRAIN_PARAM_SCHEDULERS,
    locations=['mmpretrain.engine'])

DATASETS = Registry(
    'dataset',
    scope=SCOPE,
    parent=MMPRETRAIN_DATASETS,
    locations=['mmvlsm.datasets', 'mmpretrain.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler',
    scope=SCOPE,
    parent=MMPRETRAIN_DATA_SAMPLERS,
    locations=['mmvlsm.datasets', 'mmpretrain.datasets'])
TRANSFORMS = Registry(
    'transform',
    scope=SCOPE,
    parent=MMPRETRAIN_TRANSFORMS,
    locations=['mmvlsm.datasets.transforms', 'mmpretrain.datasets'])

MODELS = Registry(
    'model',
    scope=SCOPE,
    parent=MMPRETRAIN_MODELS,
    locations=['mmvlsm.models', 'mmpretrain.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    scope=SCOPE,
    parent=MMPRETRAIN_MODEL_WRAPPERS,
    locations=['mmpretrain.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    scope=SCOPE,
    parent=MMPRETRAIN_WEIGHT_INITIALIZERS,
    locations=['mmpretrain.models'])
TASK_UTILS = Registry(
    'task util',
    scope=SCOPE,
    parent=MMPRETRAIN_TASK_UTILS,
    locations=['mmpretrain.models'])

METRICS = Registry(
    'metric',
    scope=SCOPE,
    parent=MMPRETRAIN_METRICS,
    locations=['mmvlsm.evaluation', 'mmpretrain.evaluation'])
EVALUATOR = Registry(
    'evaluator',
    scope=SCOPE,
    parent=MMPRETRAIN_EVALUATORS,
    locations=['mmpretrain.evaluation'])

VISUALIZERS = Registry(
    'visualizer',
    scope=SCOPE,
    parent=MMPRETRAIN_VISUALIZERS,
    locations=['mmpretrain.visualization'])
VISBACKENDS = Registry(
    'vis_backend',
    scope=SCOPE,
    parent=MMPRETRAIN_VISBACKENDS,
    locations=['mmpretrain.visualization'])
