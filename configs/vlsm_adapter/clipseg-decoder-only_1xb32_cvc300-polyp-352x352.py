# CLIPSeg with only its decoder fine-tuned on CVC-300 (trained on the endoscopy
# pool, tested on all its images) with the VLSM-Adapter recipe.
_base_ = [
    './_base_/clipseg-decoder-only.py',
    '../_base_/datasets/cvc300_polyp.py',
]
train_dataloader = dict(batch_size=32)
