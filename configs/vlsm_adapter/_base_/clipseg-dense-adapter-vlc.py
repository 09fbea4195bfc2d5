# CLIPSeg rd64-refined, frozen, with all of VLSM-Adapter's dense adapters
# (dense-VLC): dense-VL and the conditional adapter (512-256-512) on the
# conditional embedding. 3,237,376 trainable parameters.
_base_ = [
    '../../_base_/models/clipseg_rd64_refined.py',
    '../../_base_/schedules/vlsm_adapter.py',
    '../../_base_/default_runtime.py',
    '../../_base_/adapters/clipseg_vlsm_adapter.py',
]
model = dict(
    adapt_cfg=dict(
        adapters=[{{_base_.dense_v}}, {{_base_.dense_l}}, {{_base_.cond}}]))
# VLSM-Adapter's lr for dense adapters.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
# VLSM-Adapter ran every setting with seeds 41, 42 and 43; pick one with
# `--cfg-options randomness.seed=41`.
randomness = dict(seed=42)
