# CLIPSeg's architecture trained from scratch on Kvasir-SEG: the baseline
# that shows what CLIP pre-training brings. Needs no download, which also
# makes it the config for benchmarking the architecture offline.
_base_ = [
    '../_base_/models/clipseg_vit-b16-rd64.py',
    '../_base_/datasets/kvasir_polyp.py',
    '../_base_/schedules/medvlsm_clipseg.py',
    '../_base_/default_runtime.py',
]
# Nothing is pretrained, so every part trains at the recipe's rate.
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True))
