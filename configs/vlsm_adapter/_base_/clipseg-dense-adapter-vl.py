# CLIPSeg rd64-refined, frozen, with VLSM-Adapter's dense vision and language
# adapters (dense-VL, the paper's "DA", 3M): dense-V, and the same
# (512-64-512) in text layers 0-8. 2,974,464 trainable parameters.
_base_ = [
    '../../_base_/models/clipseg_rd64_refined.py',
    '../../_base_/schedules/vlsm_adapter.py',
    '../../_base_/default_runtime.py',
    '../../_base_/adapters/clipseg_vlsm_adapter.py',
]
model = dict(adapt_cfg=dict(adapters=[{{_base_.dense_v}}, {{_base_.dense_l}}]))
# VLSM-Adapter's lr for dense adapters.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
# VLSM-Adapter ran every setting with seeds 41, 42 and 43; pick one with
# `--cfg-options randomness.seed=41`.
randomness = dict(seed=42)
