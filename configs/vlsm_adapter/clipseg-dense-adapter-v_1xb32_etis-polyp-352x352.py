# CLIPSeg adapted with VLSM-Adapter's dense-V adapters on ETIS-Larib (trained
# on the endoscopy pool, tested on all its images) with the VLSM-Adapter
# recipe.
_base_ = [
    './_base_/clipseg-dense-adapter-v.py',
    '../_base_/datasets/etis_polyp.py',
]
train_dataloader = dict(batch_size=32)
