# CLIPSeg (ViT-B/16, reduce dim 64, refined decoder) from transformers'
# `CIDAS/clipseg-rd64-refined`. The hub name resolves through the HF cache;
# offline, download it elsewhere (`hf download CIDAS/clipseg-rd64-refined`)
# and copy the cache, or point `pretrained` at a local directory.
model = dict(
    type='CLIPSeg',
    pretrained='CIDAS/clipseg-rd64-refined',
    # Both encoders train end-to-end. Upstream's fine-tuning went through
    # transformers' forward, which runs them under no_grad, so only the
    # decoder learned; set both to True to reproduce that.
    freeze_vision=False,
    freeze_text=False,
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        # ImageNet statistics, as medvlsm normalised CLIPSeg inputs.
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        # Images already have this size; mmseg's batching requires it.
        size=(352, 352)),
    losses=[
        dict(type='SigmoidBCELoss', loss_weight=1.0),
        dict(type='SoftDiceLoss', loss_weight=1.0),
    ],
    test_cfg=dict(threshold=0.5))
