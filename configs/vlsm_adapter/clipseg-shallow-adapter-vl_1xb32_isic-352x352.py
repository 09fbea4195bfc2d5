# CLIPSeg adapted with VLSM-Adapter's shallow-VL adapters on ISIC-2016 with the
# VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-shallow-adapter-vl.py',
    '../_base_/datasets/isic.py',
]
train_dataloader = dict(batch_size=32)
