# PUNet phase 1 in 3D, upstream's `3d_aniso` field of view (4 x 4 x 4 windows;
# students 56 x 56 x 8 and 40 x 40 x 8 of a 64 x 64 x 8 teacher
# crop), on TCIA/BTCV volumes (label group 2), "meta_self".
_base_ = ['./punet-3d-flat-meta-self_1xb4-124800it_tcia-btcv-group2-128x128x4.py']
teacher_size = (64, 64, 8)
window = (4, 4, 4)
model = dict(
    backbone=dict(window=window, patch_depth=8),
    decoder=dict(window=window, patch_depth=8),
    student_sizes=((56, 56, 8), (40, 40, 8)))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.train_pipeline_64x64x8}}))
