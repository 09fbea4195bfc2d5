# CLIPSeg adapted with LoRA on BKAI-IGH NeoPolyp with the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-lora.py',
    '../_base_/datasets/bkai_polyp.py',
]
train_dataloader = dict(batch_size=32)
