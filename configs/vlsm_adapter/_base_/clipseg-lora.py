# CLIPSeg rd64-refined, frozen, with LoRA (rank 8, alpha 16) on the query and
# value projections of vision and text layers 0-9 (409,600 trainable
# parameters). A baseline VLSM-Adapter did not run.
_base_ = [
    '../../_base_/models/clipseg_rd64_refined.py',
    '../../_base_/schedules/vlsm_adapter.py',
    '../../_base_/default_runtime.py',
    '../../_base_/adapters/clipseg_vlsm_adapter.py',
]
model = dict(adapt_cfg=dict(adapters=[{{_base_.lora}}]))
# Our choice, not upstream's (VLSM-Adapter has no LoRA).
optim_wrapper = dict(optimizer=dict(lr=1e-4))
# VLSM-Adapter ran every setting with seeds 41, 42 and 43; pick one with
# `--cfg-options randomness.seed=41`.
randomness = dict(seed=42)
