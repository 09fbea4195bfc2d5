# A tiny 3D PUNet phase 1 on the toy organ volumes (python
# tools/misc/generate_toy_organs.py --volumes --out-dir data/toy_organs_3d),
# for smoke tests and CI: 8-16 channels, 4 x 4 x 2 windows, students
# 24 x 24 x 8 and 16 x 16 x 8 of 32 x 32 x 8 teacher crops, pre-trained on
# liver, spleen and left kidney (1-3) with the focal and contrastive
# losses; phase 2 (punet-tiny-3d-prompting_...) adds the right kidney (4).
# Whole volumes are segmented by 24 x 24 x 8 sliding windows.
_base_ = [
    '../_base_/models/punet_3d.py', '../_base_/datasets/toy_organs_3d.py',
    '../_base_/schedules/punet_phase1.py', '../_base_/default_runtime.py'
]
base_classes = [1, 2, 3]
tiny_channels = (8, 16, 16, 16, 16)
window = (4, 4, 2)
model = dict(
    backbone=dict(
        channels=tiny_channels, heads=2, window=window, patch_depth=8),
    decoder=dict(channels=tiny_channels, heads=2, window=window, patch_depth=8),
    head=dict(channels=8),
    additive_alpha=[0., 0., 2., 3., 3.],
    student_sizes=((24, 24, 8), (16, 16, 8)),
    # Crops and flips only, as the tiny 2D config.
    student_augment=dict(flip=True),
    teacher_augment=None)
train_dataloader = dict(dataset=dict(active_classes=base_classes))
val_dataloader = dict(dataset=dict(active_classes=base_classes))
test_dataloader = dict(dataset=dict(active_classes=base_classes))
optim_wrapper = dict(optimizer=dict(lr=2e-3))
train_cfg = dict(max_iters=60, val_interval=60)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=60, max_keep_ckpts=1))
