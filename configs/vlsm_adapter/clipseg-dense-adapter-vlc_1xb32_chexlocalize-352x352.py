# CLIPSeg adapted with VLSM-Adapter's dense-VLC adapters on CheXlocalize with
# the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-dense-adapter-vlc.py',
    '../_base_/datasets/chexlocalize.py',
]
train_dataloader = dict(batch_size=32)
