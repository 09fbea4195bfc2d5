# CLIPSeg rd64-refined, frozen, with VLSM-Adapter's shallow vision and
# language adapters (shallow-VL): shallow-V, and one adapter (512-512-512) on
# the end-token feature of text layers 3, 6 and 9, added to the conditional
# embedding. 3,939,072 trainable parameters.
_base_ = [
    '../../_base_/models/clipseg_rd64_refined.py',
    '../../_base_/schedules/vlsm_adapter.py',
    '../../_base_/default_runtime.py',
    '../../_base_/adapters/clipseg_vlsm_adapter.py',
]
model = dict(
    adapt_cfg=dict(adapters=[{{_base_.shallow_v}}, {{_base_.shallow_l}}]))
# VLSM-Adapter's lr for shallow adapters.
optim_wrapper = dict(optimizer=dict(lr=3e-4))
# VLSM-Adapter ran every setting with seeds 41, 42 and 43; pick one with
# `--cfg-options randomness.seed=41`.
randomness = dict(seed=42)
