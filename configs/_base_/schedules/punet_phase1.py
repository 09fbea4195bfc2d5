# PUNet's pre-training (phase 1): AdamW, lr 1e-4 for the body and 1e-3 for
# the prompts and their bias parameters, weight decay 1e-2, gradients
# clipped by value at 1.0, no schedule; 400 epochs of 312 batches of 16
# crops (124,800 iterations). PUNet trains in fp16 mixed precision: pass
# --amp to tools/train.py on a GPU.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-2),
    clip_grad=dict(type='value', clip_value=1.0),
    paramwise_cfg=dict(
        custom_keys={
            '.pools.': dict(lr_mult=10.0),
            'head.pool.': dict(lr_mult=10.0),
            'prompt_embeddings': dict(lr_mult=10.0),
            'prompt_weights': dict(lr_mult=10.0),
        }))
param_scheduler = []
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=124800, val_interval=12480)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VLSMVisualizationHook', draw=False),
    parameter_table=dict(type='ParameterTableHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=12480,
        max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
