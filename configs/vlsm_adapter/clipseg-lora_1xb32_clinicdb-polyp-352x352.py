# CLIPSeg adapted with LoRA on CVC-ClinicDB with the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-lora.py',
    '../_base_/datasets/clinicdb_polyp.py',
]
train_dataloader = dict(batch_size=32)
