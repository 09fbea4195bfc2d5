# CLIPSeg adapted with LoRA on BUSI with the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-lora.py',
    '../_base_/datasets/busi.py',
]
train_dataloader = dict(batch_size=32)
