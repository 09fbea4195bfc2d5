# CLIPSeg adapted with VLSM-Adapter's dense-VL adapters on CheXlocalize with
# the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-dense-adapter-vl.py',
    '../_base_/datasets/chexlocalize.py',
]
train_dataloader = dict(batch_size=32)
