# CLIPSeg adapted with LoRA on ISIC-2016 with the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-lora.py',
    '../_base_/datasets/isic.py',
]
train_dataloader = dict(batch_size=32)
