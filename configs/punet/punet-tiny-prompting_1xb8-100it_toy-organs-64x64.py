# Phase 2 of the tiny PUNet: the phase-1 model
# (punet-tiny-meta-self_1xb8-200it_toy-organs-64x64.py) frozen, only the
# prompts of the new class, the right kidney (4), train; evaluated on it.
#   python tools/train.py configs/punet/punet-tiny-meta-self_1xb8-200it_toy-organs-64x64.py
#   python tools/train.py configs/punet/punet-tiny-prompting_1xb8-100it_toy-organs-64x64.py
_base_ = ['./punet-tiny-meta-self_1xb8-200it_toy-organs-64x64.py']
new_class = 4
model = dict(
    cpa_loss=dict(loss_weight=0.0),
    adapt_cfg=dict(
        host_checkpoint='work_dirs/'
        'punet-tiny-meta-self_1xb8-200it_toy-organs-64x64/iter_200.pth',
        trainable=[
            rf're:(backbone|decoder|head)\..*\.prompts\.{new_class}',
            rf're:(backbone|decoder)\..*\.prompt_embeddings\.{new_class}',
            r're:(backbone|decoder)\..*\.prompt_weights'
        ]))
train_dataloader = dict(dataset=dict(active_classes=[new_class]))
val_dataloader = dict(dataset=dict(active_classes=[new_class]))
test_dataloader = dict(dataset=dict(active_classes=[new_class]))
# PUNet's phase-2 recipe (one-cycle AdamW without weight decay), shortened.
max_iters = 100
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
