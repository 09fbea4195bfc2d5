# PUNet phase 1 in 3D (`3d_flat`) on CT-ORG volumes, label group 2 (3
# lungs, 5 bone); phase 2 adds the liver.
#   python tools/dataset_converters/ct_multiorgan.py --dataset ctorg --data-root RAW --format nifti
_base_ = [
    '../_base_/models/punet_3d.py', '../_base_/datasets/ctorg_3d.py',
    '../_base_/schedules/punet_phase1.py', '../_base_/default_runtime.py'
]
base_classes = [3, 5]
model = dict(additive_alpha={{_base_.additive_alpha}})
train_dataloader = dict(dataset=dict(active_classes=base_classes))
val_dataloader = dict(dataset=dict(active_classes=base_classes))
test_dataloader = dict(dataset=dict(active_classes=base_classes))
