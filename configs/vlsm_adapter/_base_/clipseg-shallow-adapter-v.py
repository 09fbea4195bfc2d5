# CLIPSeg rd64-refined, frozen, with VLSM-Adapter's shallow vision adapters
# (shallow-V): one adapter (768-512-768) on each of the three vision
# activations the decoder reads. 2,363,136 trainable parameters.
_base_ = [
    '../../_base_/models/clipseg_rd64_refined.py',
    '../../_base_/schedules/vlsm_adapter.py',
    '../../_base_/default_runtime.py',
    '../../_base_/adapters/clipseg_vlsm_adapter.py',
]
model = dict(adapt_cfg=dict(adapters=[{{_base_.shallow_v}}]))
# VLSM-Adapter's lr for shallow adapters.
optim_wrapper = dict(optimizer=dict(lr=3e-4))
# VLSM-Adapter ran every setting with seeds 41, 42 and 43; pick one with
# `--cfg-options randomness.seed=41`.
randomness = dict(seed=42)
