# CLIPSeg adapted with LoRA on CheXlocalize with the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-lora.py',
    '../_base_/datasets/chexlocalize.py',
]
train_dataloader = dict(batch_size=32)
