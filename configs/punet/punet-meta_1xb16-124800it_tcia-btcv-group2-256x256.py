# PUNet phase 1, "meta" pre-training: the focal loss only (no teacher, no
# contrastive loss), on the whole 256 x 256 crop.
_base_ = ['./punet-meta-self_1xb16-124800it_tcia-btcv-group2-256x256.py']
model = dict(cpa_loss=None)
