# CLIPSeg rd64-refined, frozen, with VLSM-Adapter's dense vision adapters
# (dense-V): an adapter (768-64-768) after the attention and after the MLP of
# vision layers 0-8, before the residual sums. 1,784,448 trainable
# parameters.
_base_ = [
    '../../_base_/models/clipseg_rd64_refined.py',
    '../../_base_/schedules/vlsm_adapter.py',
    '../../_base_/default_runtime.py',
    '../../_base_/adapters/clipseg_vlsm_adapter.py',
]
model = dict(adapt_cfg=dict(adapters=[{{_base_.dense_v}}]))
# VLSM-Adapter's lr for dense adapters.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
# VLSM-Adapter ran every setting with seeds 41, 42 and 43; pick one with
# `--cfg-options randomness.seed=41`.
randomness = dict(seed=42)
