# The official CRIS recipe (config/refcoco/cris_r50.yaml): Adam with lr 1e-4
# and no weight decay, CLIP (the backbone and the text encoder) at 1/10 of
# the rate, batch 64 (set in the config), 50 epochs with the LR x0.1 after
# epoch 35, no gradient clipping, no early stopping, the best checkpoint by
# validation mIoU. Loops and hooks are those of medvlsm_clipseg.py. CRIS
# trained in mixed precision: pass `--amp fp16` to tools/train.py.
_base_ = './medvlsm_clipseg.py'
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=0),
    # CRIS's "backbone" is the whole CLIP, both towers.
    paramwise_cfg=dict(
        custom_keys=dict(
            backbone=dict(lr_mult=0.1), text_encoder=dict(lr_mult=0.1))))
param_scheduler = [
    dict(type='MultiStepLR', milestones=[35], gamma=0.1, by_epoch=True)
]
train_cfg = dict(max_epochs=50)
default_hooks = dict(checkpoint=dict(save_best='mIoU'))
custom_hooks = []
