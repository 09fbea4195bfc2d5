# PUNet phase 1, "meta_self_noninstructed": the blocks do not take the
# prompts (only the head's prompts remain).
_base_ = ['./punet-meta-self_1xb16-124800it_tcia-btcv-group2-256x256.py']
model = dict(backbone=dict(prompted=False), decoder=dict(prompted=False))
