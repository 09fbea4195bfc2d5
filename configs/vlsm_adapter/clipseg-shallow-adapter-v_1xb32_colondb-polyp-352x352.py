# CLIPSeg adapted with VLSM-Adapter's shallow-V adapters on CVC-ColonDB
# (trained on the endoscopy pool, tested on all its images) with the
# VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-shallow-adapter-v.py',
    '../_base_/datasets/colondb_polyp.py',
]
train_dataloader = dict(batch_size=32)
