# The medvlsm recipe for CLIPSeg-family models: AdamW (lr 2e-3, weight decay
# 1e-3, batch 128), gradient clipping at norm 0.5, validation every epoch,
# LR x0.1 after 5 epochs without improvement, early stop after 20, best
# checkpoint by validation Dice. Upstream monitored the validation loss for
# the LR plateau; mmengine's validation loop computes metrics, not losses, so
# the plateau watches validation Dice instead.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-3),
    clip_grad=dict(max_norm=0.5, norm_type=2),
    # The decoder trains at the recipe's learning rate; the pretrained
    # encoders, which upstream never updated (its forward froze them), at
    # 1/100 of it.
    paramwise_cfg=dict(
        custom_keys=dict(
            vision_model=dict(lr_mult=0.01),
            text_model=dict(lr_mult=0.01),
            text_projection=dict(lr_mult=0.01))))
param_scheduler = [
    dict(
        type='ReduceOnPlateauLR',
        monitor='mDice',
        rule='greater',
        factor=0.1,
        patience=5,
        by_epoch=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1000, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # `tools/test.py --show-dir DIR` switches it on.
    visualization=dict(type='VLSMVisualizationHook', draw=False),
    # Trainable vs total parameters per module, logged when training starts.
    parameter_table=dict(type='ParameterTableHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=1,
        max_keep_ckpts=1,
        save_last=True,
        save_best='mDice',
        rule='greater'))
custom_hooks = [
    dict(
        type='EarlyStoppingHook',
        monitor='mDice',
        rule='greater',
        min_delta=0.01,
        patience=20)
]
log_processor = dict(by_epoch=True)
