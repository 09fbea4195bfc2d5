# Copyright (c) OpenMMLab. All rights reserved.
"""The segmentation registries: one child of each of mmseg's 21 nodes.

Segmentation configs set ``default_scope = 'mmvlsm'``. A type that mmvlsm
does not define (``SegDataPreProcessor``, ``LoadImageFromFile``,
``IterBasedTrainLoop``, ...) is looked up in the parent mmseg node and then
in mmengine's root node, so everything mmseg and mmengine register stays
usable by its plain name. The ``locations`` list the modules imported on
first use: ours, then mmseg's, because a child registry does not import its
parent's locations.
"""
from mmengine.registry import Registry
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import INFERENCERS as MMSEG_INFERENCERS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNER_CONSTRUCTORS as MMSEG_RUNNER_CONSTRUCTORS
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS

SCOPE = 'mmvlsm'

RUNNERS = Registry('runner', scope=SCOPE, parent=MMSEG_RUNNERS)
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', scope=SCOPE, parent=MMSEG_RUNNER_CONSTRUCTORS)
LOOPS = Registry('loop', scope=SCOPE, parent=MMSEG_LOOPS)
HOOKS = Registry(
    'hook',
    scope=SCOPE,
    parent=MMSEG_HOOKS,
    locations=['mmvlsm.engine.hooks', 'mmseg.engine.hooks'])

DATASETS = Registry(
    'dataset',
    scope=SCOPE,
    parent=MMSEG_DATASETS,
    locations=['mmvlsm.datasets', 'mmseg.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler',
    scope=SCOPE,
    parent=MMSEG_DATA_SAMPLERS,
    locations=['mmvlsm.datasets'])
TRANSFORMS = Registry(
    'transform',
    scope=SCOPE,
    parent=MMSEG_TRANSFORMS,
    locations=['mmvlsm.datasets.transforms', 'mmseg.datasets.transforms'])

MODELS = Registry(
    'model',
    scope=SCOPE,
    parent=MMSEG_MODELS,
    locations=['mmvlsm.models', 'mmseg.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    scope=SCOPE,
    parent=MMSEG_MODEL_WRAPPERS,
    locations=['mmvlsm.models', 'mmseg.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    scope=SCOPE,
    parent=MMSEG_WEIGHT_INITIALIZERS,
    locations=['mmvlsm.models', 'mmseg.models'])

OPTIMIZERS = Registry(
    'optimizer',
    scope=SCOPE,
    parent=MMSEG_OPTIMIZERS,
    locations=['mmseg.engine.optimizers'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    scope=SCOPE,
    parent=MMSEG_OPTIM_WRAPPERS,
    locations=['mmseg.engine.optimizers'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    scope=SCOPE,
    parent=MMSEG_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmseg.engine.optimizers'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    scope=SCOPE,
    parent=MMSEG_PARAM_SCHEDULERS,
    locations=['mmvlsm.engine.schedulers', 'mmseg.engine.schedulers'])

METRICS = Registry(
    'metric',
    scope=SCOPE,
    parent=MMSEG_METRICS,
    locations=['mmvlsm.evaluation', 'mmseg.evaluation'])
EVALUATOR = Registry(
    'evaluator',
    scope=SCOPE,
    parent=MMSEG_EVALUATOR,
    locations=['mmvlsm.evaluation', 'mmseg.evaluation'])

TASK_UTILS = Registry(
    'task util',
    scope=SCOPE,
    parent=MMSEG_TASK_UTILS,
    locations=['mmseg.models'])

VISUALIZERS = Registry(
    'visualizer',
    scope=SCOPE,
    parent=MMSEG_VISUALIZERS,
    locations=['mmseg.visualization'])
VISBACKENDS = Registry(
    'vis_backend',
    scope=SCOPE,
    parent=MMSEG_VISBACKENDS,
    locations=['mmseg.visualization'])
LOG_PROCESSORS = Registry(
    'log_processor',
    scope=SCOPE,
    parent=MMSEG_LOG_PROCESSORS,
    locations=['mmseg.visualization'])

INFERENCERS = Registry('inferencer', scope=SCOPE, parent=MMSEG_INFERENCERS)
