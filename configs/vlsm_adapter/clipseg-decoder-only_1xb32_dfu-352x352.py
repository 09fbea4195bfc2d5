# CLIPSeg with only its decoder fine-tuned on DFUC-2022 with the VLSM-Adapter
# recipe.
_base_ = [
    './_base_/clipseg-decoder-only.py',
    '../_base_/datasets/dfu.py',
]
train_dataloader = dict(batch_size=32)
