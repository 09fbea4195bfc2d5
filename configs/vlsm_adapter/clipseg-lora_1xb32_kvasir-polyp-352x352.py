# CLIPSeg adapted with LoRA on Kvasir-SEG with the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-lora.py',
    '../_base_/datasets/kvasir_polyp.py',
]
train_dataloader = dict(batch_size=32)
