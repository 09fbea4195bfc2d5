# CLIPSeg adapted with VLSM-Adapter's shallow-V adapters on Kvasir-SEG with the
# VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-shallow-adapter-v.py',
    '../_base_/datasets/kvasir_polyp.py',
]
train_dataloader = dict(batch_size=32)
