# CLIPSeg adapted with VLSM-Adapter's dense-V adapters on CAMUS with the
# VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-dense-adapter-v.py',
    '../_base_/datasets/camus.py',
]
train_dataloader = dict(batch_size=32)
