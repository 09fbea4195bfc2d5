# CLIPSeg with only its decoder fine-tuned on CheXlocalize with the
# VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-decoder-only.py',
    '../_base_/datasets/chexlocalize.py',
]
train_dataloader = dict(batch_size=32)
