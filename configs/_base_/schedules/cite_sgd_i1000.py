# CITE's schedule: SGD without momentum or weight decay at lr 0.03 (CITE's
# main config since 2023-12; 1e-3 before), 1000 iterations, the learning
# rate following a cosine from 0.03 to 0, multiplied by 0.005 during the
# first 20 iterations (mmcv's constant warm-up), no gradient clipping;
# validation and a checkpoint at the end.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0, weight_decay=0))
param_scheduler = [
    # mmengine's ConstantLR gives the factor back on the step that reaches
    # `end - 1`: end=21 keeps 0.005x for iterations 0-19, as mmcv did
    # (end=20 would release it one iteration early; tested).
    dict(type='ConstantLR', factor=0.005, begin=0, end=21, by_epoch=False),
    dict(
        type='CosineAnnealingLR',
        T_max=1000,
        eta_min=0,
        begin=0,
        end=1000,
        by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
