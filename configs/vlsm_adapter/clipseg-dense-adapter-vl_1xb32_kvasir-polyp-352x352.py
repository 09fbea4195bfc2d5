# CLIPSeg adapted with VLSM-Adapter's dense-VL adapters on Kvasir-SEG with the
# VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-dense-adapter-vl.py',
    '../_base_/datasets/kvasir_polyp.py',
]
train_dataloader = dict(batch_size=32)
