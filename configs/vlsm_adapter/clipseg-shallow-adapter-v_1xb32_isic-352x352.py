# CLIPSeg adapted with VLSM-Adapter's shallow-V adapters on ISIC-2016 with the
# VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-shallow-adapter-v.py',
    '../_base_/datasets/isic.py',
]
train_dataloader = dict(batch_size=32)
