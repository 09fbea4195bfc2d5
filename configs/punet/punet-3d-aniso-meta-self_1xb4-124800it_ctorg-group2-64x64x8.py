# PUNet phase 1 in 3D, upstream's `3d_aniso` field of view, on CT-ORG
# volumes (label group 2: 3 lungs, 5 bone); see the TCIA/BTCV config of the
# same field of view.
_base_ = ['./punet-3d-flat-meta-self_1xb4-124800it_ctorg-group2-128x128x4.py']
teacher_size = (64, 64, 8)
window = (4, 4, 4)
model = dict(
    backbone=dict(window=window, patch_depth=8),
    decoder=dict(window=window, patch_depth=8),
    student_sizes=((56, 56, 8), (40, 40, 8)))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.train_pipeline_64x64x8}}))
