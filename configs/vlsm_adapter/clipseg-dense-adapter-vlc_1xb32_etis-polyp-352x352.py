# CLIPSeg adapted with VLSM-Adapter's dense-VLC adapters on ETIS-Larib (trained
# on the endoscopy pool, tested on all its images) with the VLSM-Adapter
# recipe.
_base_ = [
    './_base_/clipseg-dense-adapter-vlc.py',
    '../_base_/datasets/etis_polyp.py',
]
train_dataloader = dict(batch_size=32)
