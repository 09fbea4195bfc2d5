# CLIPSeg fine-tuned on Kvasir-SEG with the medvlsm recipe.
_base_ = [
    '../_base_/models/clipseg_rd64_refined.py',
    '../_base_/datasets/kvasir_polyp.py',
    '../_base_/schedules/medvlsm_clipseg.py',
    '../_base_/default_runtime.py',
]
