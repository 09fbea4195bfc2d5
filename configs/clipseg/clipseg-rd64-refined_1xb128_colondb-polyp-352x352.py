# CLIPSeg fine-tuned on CVC-ColonDB (trained on the endoscopy pool) with the medvlsm recipe.
_base_ = [
    '../_base_/models/clipseg_rd64_refined.py',
    '../_base_/datasets/colondb_polyp.py',
    '../_base_/schedules/medvlsm_clipseg.py',
    '../_base_/default_runtime.py',
]
