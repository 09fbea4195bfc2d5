# CLIPSeg with only its decoder fine-tuned on Kvasir-SEG with the VLSM-Adapter
# recipe.
_base_ = [
    './_base_/clipseg-decoder-only.py',
    '../_base_/datasets/kvasir_polyp.py',
]
train_dataloader = dict(batch_size=32)
