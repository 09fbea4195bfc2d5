# PUNet phase 1 in 3D, upstream's `3d_flat` field of view (6 x 6 x 2
# windows; students 112 x 112 x 4 and 80 x 80 x 4 of a 128 x 128 x 4
# teacher crop), on TCIA/BTCV volumes (label group 2), "meta_self": focal
# and contrastive prototype losses.
#   python tools/dataset_converters/ct_multiorgan.py --dataset tcia_btcv --data-root RAW --format nifti
#   python tools/train.py configs/punet/punet-3d-flat-meta-self_1xb4-124800it_tcia-btcv-group2-128x128x4.py --amp
_base_ = [
    '../_base_/models/punet_3d.py', '../_base_/datasets/tcia_btcv_3d.py',
    '../_base_/schedules/punet_phase1.py', '../_base_/default_runtime.py'
]
base_classes = [4, 6, 7, 8]
model = dict(additive_alpha={{_base_.additive_alpha}})
train_dataloader = dict(dataset=dict(active_classes=base_classes))
val_dataloader = dict(dataset=dict(active_classes=base_classes))
test_dataloader = dict(dataset=dict(active_classes=base_classes))
