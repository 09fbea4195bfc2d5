# Baseline: linear probe on CLIP ViT-B/16's frozen 512-d features (CITE's
# "linear_clip-vitb16_bs128_i1000"): a 512 -> 3 linear head (1,539
# parameters), lr 0.01, random (not class-balanced) batches of 128.
_base_ = ['./cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    backbone=dict(prompt_length=0),
    neck=None,
    head=dict(
        _delete_=True,
        type='LinearClsHead',
        num_classes=3,
        # in_channels: the backbone's 512, filled in by CITEClassifier.
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
optim_wrapper = dict(optimizer=dict(lr=0.01))
train_dataloader = dict(
    batch_size=128, sampler=dict(_delete_=True, type='InfiniteSampler'))
