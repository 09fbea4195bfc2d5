# CLIPSeg adapted with VLSM-Adapter's shallow-V adapters on CheXlocalize with
# the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-shallow-adapter-v.py',
    '../_base_/datasets/chexlocalize.py',
]
train_dataloader = dict(batch_size=32)
