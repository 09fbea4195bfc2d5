# CRIS (R50) on Kvasir-SEG, frozen, with dense adapters (VLSM-Adapter's
# adapter, 64 wide) after the attention and the MLP of every layer of the
# CLIP text transformer and after the self-attention, cross-attention and
# FFN of every layer of CRIS's vision-language decoder, before their
# residual sums (2,181,696 trainable parameters). The ResNet, the FPN and
# the projector have no such sub-layers and stay frozen as they are. Not in
# VLSM-Adapter (which adapted CLIPSeg only): lr 1e-4, its rate for CRIS, and
# its recipe otherwise; 416x416 inputs resized as medvlsm did.
#
# The host is CRIS trained on RefCOCO, converted with
#   python tools/model_converters/cris2mmvlsm.py pretrain/cris.pt \
#       pretrain/cris_r50_refcoco_mmvlsm.pth
# (see configs/cris/README.md). It is loaded through
# `adapt_cfg.host_checkpoint`, not `load_from`: checkpoints of an adapted
# model hold only the adapters, and testing one rebuilds the host from this
# config before loading them.
_base_ = [
    '../_base_/models/cris_r50.py',
    '../_base_/datasets/kvasir_polyp.py',
    '../_base_/schedules/vlsm_adapter.py',
    '../_base_/default_runtime.py',
]
model = dict(
    # The host checkpoint replaces every weight.
    clip_pretrained=None,
    adapt_cfg=dict(
        host_checkpoint='pretrain/cris_r50_refcoco_mmvlsm.pth',
        adapters=[
            dict(
                type='ResidualAdapters',
                modules=r'text_encoder\.transformer\.resblocks\.\d+\.'
                r'(attn|mlp)',
                hidden_dims=64),
            dict(
                type='ResidualAdapters',
                modules=r'decode_head\.decoder\.layers\.\d+\.'
                r'(self_attn|multihead_attn|ffn)',
                hidden_dims=64),
        ]))
optim_wrapper = dict(optimizer=dict(lr=1e-4))
# drop_last, as the CRIS configs: the FPN's BatchNorm1d fails on a
# one-sample training batch when it trains (here it is frozen and in eval
# mode, but `adapt_cfg.trainable=['neck']` would train it).
train_dataloader = dict(
    batch_size=32,
    drop_last=True,
    dataset=dict(pipeline={{_base_.train_pipeline_416x416}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_416x416}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_416x416}}))
# Seeds 41, 42 and 43 as VLSM-Adapter: `--cfg-options randomness.seed=41`.
randomness = dict(seed=42)
