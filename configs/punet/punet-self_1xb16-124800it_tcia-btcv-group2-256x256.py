# PUNet phase 1, "self" pre-training: the contrastive prototype loss only
# (the labels are not used).
_base_ = ['./punet-meta-self_1xb16-124800it_tcia-btcv-group2-256x256.py']
model = dict(seg_loss=None)
