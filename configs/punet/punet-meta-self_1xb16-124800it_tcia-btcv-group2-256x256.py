# PUNet phase 1 on TCIA/BTCV, PUNet's label group 2 (4 esophagus,
# 6 stomach, 7 pancreas, 8 duodenum; the group-1 organs stay unlabelled for
# phase 2), "meta_self" pre-training: the focal loss of the prompted class
# on two student crops, and the contrastive prototype loss against the EMA
# teacher.
#   python tools/train.py configs/punet/punet-meta-self_1xb16-124800it_tcia-btcv-group2-256x256.py --amp
_base_ = [
    '../_base_/models/punet_2d.py', '../_base_/datasets/tcia_btcv_2d.py',
    '../_base_/schedules/punet_phase1.py', '../_base_/default_runtime.py'
]
base_classes = [4, 6, 7, 8]
model = dict(additive_alpha={{_base_.additive_alpha}})
train_dataloader = dict(dataset=dict(active_classes=base_classes))
val_dataloader = dict(dataset=dict(active_classes=base_classes))
test_dataloader = dict(dataset=dict(active_classes=base_classes))
