# Runtime of the classification configs (CITE and its baselines): mmvlsm's
# classification registries, whose parents are mmpretrain's, so
# mmpretrain's types (ImageClassifier, PackInputs, CrossEntropyLoss, ...)
# keep their plain names.
default_scope = 'mmvlsm_cls'
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=1000,
        max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # tools/test.py --show-dir switches it on.
    visualization=dict(type='VisualizationHook', enable=False),
    # What trains (CITE: prompt and neck, 526,080 parameters), on record.
    parameter_table=dict(type='ParameterTableHook'))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
