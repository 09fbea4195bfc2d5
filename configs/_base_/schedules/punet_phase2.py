# PUNet's adaptation (phase 2): AdamW at 5e-4 without weight decay, a
# one-cycle learning rate (10% warm-up from 5e-4 / 20, cosine back down to
# 5e-4 / 20), 100 epochs of 312 batches (31,200 iterations), validation
# every 5 epochs. PUNet stepped the one-cycle schedule once per epoch; here
# it moves every iteration, and the momentum is not cycled.
_base_ = './punet_phase1.py'
optim_wrapper = dict(
    optimizer=dict(lr=5e-4, weight_decay=0.0),
    paramwise_cfg=dict(_delete_=True))
param_scheduler = [
    dict(
        type='OneCycleLR',
        eta_max=5e-4,
        total_steps=31200,
        pct_start=0.1,
        anneal_strategy='cos',
        div_factor=20.0,
        final_div_factor=1.0,
        by_epoch=False)
]
train_cfg = dict(max_iters=31200, val_interval=1560)
default_hooks = dict(checkpoint=dict(interval=1560))
