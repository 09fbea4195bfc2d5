# CLIPSeg adapted with VLSM-Adapter's dense-VLC adapters on BUSI with the
# VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-dense-adapter-vlc.py',
    '../_base_/datasets/busi.py',
]
train_dataloader = dict(batch_size=32)
