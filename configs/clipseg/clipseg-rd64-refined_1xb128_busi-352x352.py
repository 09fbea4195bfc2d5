# CLIPSeg fine-tuned on BUSI with the medvlsm recipe.
_base_ = [
    '../_base_/models/clipseg_rd64_refined.py',
    '../_base_/datasets/busi.py',
    '../_base_/schedules/medvlsm_clipseg.py',
    '../_base_/default_runtime.py',
]
