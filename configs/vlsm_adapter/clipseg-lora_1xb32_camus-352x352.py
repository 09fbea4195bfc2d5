# CLIPSeg adapted with LoRA on CAMUS with the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-lora.py',
    '../_base_/datasets/camus.py',
]
train_dataloader = dict(batch_size=32)
