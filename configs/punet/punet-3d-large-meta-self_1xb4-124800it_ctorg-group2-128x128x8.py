# PUNet phase 1 in 3D, upstream's `3d_large` field of view, on CT-ORG
# volumes (label group 2: 3 lungs, 5 bone); see the TCIA/BTCV config of the
# same field of view.
_base_ = ['./punet-3d-flat-meta-self_1xb4-124800it_ctorg-group2-128x128x4.py']
teacher_size = (128, 128, 8)
window = (6, 6, 4)
model = dict(
    backbone=dict(window=window, patch_depth=8),
    decoder=dict(window=window, patch_depth=8),
    student_sizes=((112, 112, 8), (80, 80, 8)))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.train_pipeline_128x128x8}}))
