# PUNet phase 1 in 3D, upstream's `3d_large` field of view (6 x 6 x 4 windows;
# students 112 x 112 x 8 and 80 x 80 x 8 of a 128 x 128 x 8 teacher
# crop), on TCIA/BTCV volumes (label group 2), "meta_self".
_base_ = ['./punet-3d-flat-meta-self_1xb4-124800it_tcia-btcv-group2-128x128x4.py']
teacher_size = (128, 128, 8)
window = (6, 6, 4)
model = dict(
    backbone=dict(window=window, patch_depth=8),
    decoder=dict(window=window, patch_depth=8),
    student_sizes=((112, 112, 8), (80, 80, 8)))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.train_pipeline_128x128x8}}))
