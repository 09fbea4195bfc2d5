# BiomedCLIPSeg on Kvasir-SEG with dense adapters (VLSM-Adapter's adapter,
# 64 wide) in both encoders, before their residual sums: after the attention
# and the MLP of ViT blocks 0-9 (block 10 is the last the decoder reads) and
# after the attention and the feed-forward output projections of every
# PubMedBERT layer; the VLSM-Adapter recipe at the dense adapters' lr 1e-3.
# Not in VLSM-Adapter, which adapted CLIPSeg only.
#
# BiomedCLIPSeg's decoder was never trained on BiomedCLIP's features (it
# starts at random), so unlike CLIPSeg's it trains along with the adapters
# (`trainable=['decoder']`); the encoders stay frozen. To adapt a
# BiomedCLIPSeg already fine-tuned (e.g. by
# configs/biomedclipseg/biomedclipseg_1xb128_kvasir-polyp-224x224.py),
# load it as the host and freeze its decoder too:
#   --cfg-options model.adapt_cfg.host_checkpoint=PATH \
#       "model.adapt_cfg.trainable=[]"
_base_ = [
    '../_base_/models/biomedclipseg_vit-b16.py',
    '../_base_/datasets/kvasir_polyp.py',
    '../_base_/schedules/vlsm_adapter.py',
    '../_base_/default_runtime.py',
]
model = dict(
    adapt_cfg=dict(
        trainable=['decoder'],
        adapters=[
            dict(
                type='ResidualAdapters',
                modules=r'vision_model\.blocks\.[0-9]\.(attn|mlp)',
                hidden_dims=64),
            dict(
                type='ResidualAdapters',
                modules=r'text_model\.transformer\.encoder\.layer\.\d+\.'
                r'(attention\.output|output)\.dense',
                hidden_dims=64),
        ]))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_dataloader = dict(
    batch_size=32, dataset=dict(pipeline={{_base_.train_pipeline_224x224}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_224x224}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_224x224}}))
# Seeds 41, 42 and 43 as VLSM-Adapter: `--cfg-options randomness.seed=41`.
randomness = dict(seed=42)
