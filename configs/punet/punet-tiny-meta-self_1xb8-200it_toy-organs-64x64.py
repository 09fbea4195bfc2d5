# A tiny PUNet phase 1 on the toy organs (python
# tools/misc/generate_toy_organs.py --out-dir data/toy_organs), for smoke
# tests and CI: pre-trained on liver, spleen and left kidney (classes 1-3)
# with the focal and contrastive losses; phase 2
# (punet-tiny-prompting_1xb8-100it_toy-organs-64x64.py) adds the right
# kidney (4) by prompt tuning. A narrow PUNet (8-16 channels, 4 x 4
# windows) on 48 x 48 crops; about a minute on a 2-core CPU.
_base_ = [
    '../_base_/models/punet_2d.py', '../_base_/datasets/tcia_btcv_2d.py',
    '../_base_/schedules/punet_phase1.py', '../_base_/default_runtime.py'
]
base_classes = [1, 2, 3]
# The toy organs' classes by label (tools/misc/generate_toy_organs.py).
class_names = ['background', 'liver', 'spleen', 'left kidney', 'right kidney']
tiny_channels = (8, 16, 16, 16, 16)
model = dict(
    backbone=dict(channels=tiny_channels, heads=2, window=(4, 4)),
    decoder=dict(channels=tiny_channels, heads=2, window=(4, 4)),
    head=dict(channels=8),
    # Extra focal-loss weight of the smaller organs (PUNet's additive
    # alpha: larger for rarer foreground).
    additive_alpha=[0., 0., 2., 3., 3.],
    student_sizes=((40, 40), (32, 32)),
    # Crops and flips only: 200 iterations are too few for PUNet's full
    # augmentation of the views (affine warps, dropout, intensity).
    student_augment=dict(flip=True),
    teacher_augment=None)
data_root = 'data/toy_organs'
train_pipeline = [
    dict(type='LoadCheckedImageFromFile', color_type='grayscale'),
    dict(type='LoadAnnotations'),
    dict(type='RandomActiveClass'),
    dict(type='BinarizeActiveClass'),
    dict(type='RandomCrop', crop_size=(48, 48)),
    dict(type='PackVLSMInputs', meta_keys={{_base_.meta_keys}}),
]
# CPU-sized loaders.
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(
        data_root=data_root,
        active_classes=base_classes,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(data_root=data_root, active_classes=base_classes))
test_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(data_root=data_root, active_classes=base_classes))
optim_wrapper = dict(optimizer=dict(lr=2e-3))
train_cfg = dict(max_iters=200, val_interval=200)
default_hooks = dict(
    logger=dict(interval=25), checkpoint=dict(interval=200, max_keep_ckpts=1))
