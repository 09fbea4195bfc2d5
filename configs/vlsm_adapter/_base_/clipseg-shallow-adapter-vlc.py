# CLIPSeg rd64-refined, frozen, with all of VLSM-Adapter's shallow adapters
# (shallow-VLC, the paper's "SA", 4.2M): shallow-VL and the conditional
# adapter (512-256-512) on the conditional embedding. 4,201,984 trainable
# parameters. The conditional adapter comes before the language adapters:
# upstream adapts the embedding first, then adds the text-layer adapters.
_base_ = [
    '../../_base_/models/clipseg_rd64_refined.py',
    '../../_base_/schedules/vlsm_adapter.py',
    '../../_base_/default_runtime.py',
    '../../_base_/adapters/clipseg_vlsm_adapter.py',
]
model = dict(
    adapt_cfg=dict(adapters=[{{_base_.shallow_v}}, {{_base_.cond}},
                             {{_base_.shallow_l}}]))
# VLSM-Adapter's lr for shallow adapters.
optim_wrapper = dict(optimizer=dict(lr=3e-4))
# VLSM-Adapter ran every setting with seeds 41, 42 and 43; pick one with
# `--cfg-options randomness.seed=41`.
randomness = dict(seed=42)
