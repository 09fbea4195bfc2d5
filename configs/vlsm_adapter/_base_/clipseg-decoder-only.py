# CLIPSeg rd64-refined with its encoders frozen and the decoder fine-tuned
# (1,127,009 trainable parameters), no adapters: what upstream's CLIPSeg
# "full fine-tuning" trained in effect (transformers' forward ran the
# encoders under no_grad), at VLSM-Adapter's lr for CLIPSeg. True full
# fine-tuning is configs/clipseg.
_base_ = [
    '../../_base_/models/clipseg_rd64_refined.py',
    '../../_base_/schedules/vlsm_adapter.py',
    '../../_base_/default_runtime.py',
    '../../_base_/adapters/clipseg_vlsm_adapter.py',
]
model = dict(adapt_cfg=dict(trainable=['decoder']))
# VLSM-Adapter's lr for CLIPSeg.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
# VLSM-Adapter ran every setting with seeds 41, 42 and 43; pick one with
# `--cfg-options randomness.seed=41`.
randomness = dict(seed=42)
