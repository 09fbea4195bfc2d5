# CLIPSeg adapted with VLSM-Adapter's dense-VL adapters on BKAI-IGH NeoPolyp
# with the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-dense-adapter-vl.py',
    '../_base_/datasets/bkai_polyp.py',
]
train_dataloader = dict(batch_size=32)
