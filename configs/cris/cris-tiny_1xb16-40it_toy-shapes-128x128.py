# A tiny CRIS on the toy shapes data, for smoke tests and CI: the
# quickstart's data and runtime (128x128 inputs), CRIS's architecture at toy
# sizes, random weights (no CLIP checkpoint), CRIS's own loss (BCE on the
# 1/4-resolution logits) and letterboxed inputs. Forty iterations at batch
# 16 and the validation take well under a minute on a 2-core CPU.
_base_ = ['../quickstart/clipseg-tiny_1xb16-650it_toy-shapes-128x128.py']

img_scale = (128, 128)
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadBinaryMask'),
    dict(type='LetterBoxResize', scale=img_scale),
    dict(type='TextAwareRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='TokenizePrompt'),
    dict(type='PackVLSMInputs'),
]
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LetterBoxResize', scale=img_scale),
    dict(type='LoadBinaryMask'),
    dict(type='TokenizePrompt'),
    dict(type='PackVLSMInputs'),
]
# drop_last: the FPN's BatchNorm1d needs two or more samples per batch.
train_dataloader = dict(drop_last=True, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

model = dict(
    _delete_=True,
    type='CRIS',
    # Random weights: nothing pre-trained at these sizes.
    clip_pretrained=None,
    backbone=dict(
        type='CRISResNet',
        layers=(1, 1, 1, 1),
        width=8,
        output_dim=64,
        heads=4,
        pretrain_img_size=128),
    text_encoder=dict(
        type='CLIPTextTransformer', width=64, heads=2, layers=2,
        output_dim=64),
    neck=dict(
        type='CRISFPN', in_channels=(64, 128, 64), out_channels=(32, 64, 64)),
    decode_head=dict(
        type='CRISHead',
        in_channels=64,
        text_channels=64,
        num_layers=2,
        num_heads=2,
        ffn_channels=128,
        dropout=0.1),
    tokenizer=dict(type='openai_bpe'),
    context_length=17,
    data_preprocessor=dict(
        type='VLSMDataPreProcessor',
        mean=[122.7709383, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True),
    losses=dict(type='SigmoidBCELoss'),
    train_cfg=dict(loss_size='logits'),
    test_cfg=dict(threshold=0.35))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-3),
    clip_grad=dict(max_norm=0.5, norm_type=2),
    # CRIS's recipe: the pretrained encoders at 1/10 of the rate.
    paramwise_cfg=dict(
        custom_keys=dict(
            backbone=dict(lr_mult=0.1), text_encoder=dict(lr_mult=0.1))))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10)
]
train_cfg = dict(max_iters=40, val_interval=40)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=40))
