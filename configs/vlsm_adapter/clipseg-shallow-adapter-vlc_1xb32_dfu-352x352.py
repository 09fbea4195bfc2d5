# CLIPSeg adapted with VLSM-Adapter's shallow-VLC adapters on DFUC-2022 with
# the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-shallow-adapter-vlc.py',
    '../_base_/datasets/dfu.py',
]
train_dataloader = dict(batch_size=32)
