# Phase 2 of the tiny 3D PUNet: the phase-1 model
# (punet-tiny-3d-meta-self_1xb2-60it_toy-organs-32x32x8.py) frozen, only the
# prompts of the right kidney (4) train; evaluated on it per volume.
#   python tools/train.py configs/punet/punet-tiny-3d-meta-self_1xb2-60it_toy-organs-32x32x8.py
#   python tools/train.py configs/punet/punet-tiny-3d-prompting_1xb2-30it_toy-organs-32x32x8.py
_base_ = ['./punet-tiny-3d-meta-self_1xb2-60it_toy-organs-32x32x8.py']
new_class = 4
model = dict(
    cpa_loss=dict(loss_weight=0.0),
    adapt_cfg=dict(
        host_checkpoint='work_dirs/'
        'punet-tiny-3d-meta-self_1xb2-60it_toy-organs-32x32x8/iter_60.pth',
        trainable=[
            rf're:(backbone|decoder|head)\..*\.prompts\.{new_class}',
            rf're:(backbone|decoder)\..*\.prompt_embeddings\.{new_class}',
            r're:(backbone|decoder)\..*\.prompt_weights'
        ]))
train_dataloader = dict(dataset=dict(active_classes=[new_class]))
val_dataloader = dict(dataset=dict(active_classes=[new_class]))
test_dataloader = dict(dataset=dict(active_classes=[new_class]))
max_iters = 30
optim_wrapper = dict(
    optimizer=dict(lr=5e-3, weight_decay=0.0),
    paramwise_cfg=dict(_delete_=True))
param_scheduler = [
    dict(
        type='OneCycleLR',
        eta_max=5e-3,
        total_steps=max_iters,
        pct_start=0.1,
        div_factor=20.0,
        final_div_factor=1.0,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
