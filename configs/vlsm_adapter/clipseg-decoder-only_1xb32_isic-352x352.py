# CLIPSeg with only its decoder fine-tuned on ISIC-2016 with the VLSM-Adapter
# recipe.
_base_ = [
    './_base_/clipseg-decoder-only.py',
    '../_base_/datasets/isic.py',
]
train_dataloader = dict(batch_size=32)
