# PUNet phase 1 on CT-ORG, PUNet's label group 2 (3 lungs, 5 bone; group 1,
# liver, bladder and kidneys, is left for phase 2), "meta_self"
# pre-training.
_base_ = [
    '../_base_/models/punet_2d.py', '../_base_/datasets/ctorg_2d.py',
    '../_base_/schedules/punet_phase1.py', '../_base_/default_runtime.py'
]
base_classes = [3, 5]
model = dict(additive_alpha={{_base_.additive_alpha}})
train_dataloader = dict(dataset=dict(active_classes=base_classes))
val_dataloader = dict(dataset=dict(active_classes=base_classes))
test_dataloader = dict(dataset=dict(active_classes=base_classes))
