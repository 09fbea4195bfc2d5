# CLIPSeg fine-tuned on ISIC-2016 with the medvlsm recipe.
_base_ = [
    '../_base_/models/clipseg_rd64_refined.py',
    '../_base_/datasets/isic.py',
    '../_base_/schedules/medvlsm_clipseg.py',
    '../_base_/default_runtime.py',
]
