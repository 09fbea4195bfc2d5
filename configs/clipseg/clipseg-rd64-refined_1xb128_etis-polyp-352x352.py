# CLIPSeg fine-tuned on the endoscopy pool with the medvlsm recipe and
# tested on ETIS-Larib.
_base_ = [
    '../_base_/models/clipseg_rd64_refined.py',
    '../_base_/datasets/etis_polyp.py',
    '../_base_/schedules/medvlsm_clipseg.py',
    '../_base_/default_runtime.py',
]
