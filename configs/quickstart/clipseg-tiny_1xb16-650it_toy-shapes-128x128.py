# Quickstart: a small CLIPSeg-architecture model trained from scratch on the
# toy shapes data (`python tools/misc/generate_toy_dataset.py`). Every image
# holds three shapes and the prompt says which one to segment, so the model
# only does well if it reads the text. Trains on a 2-core CPU in under three
# minutes (650 iterations at batch 16).
_base_ = [
    '../_base_/datasets/medvlsm.py',
    '../_base_/default_runtime.py',
]

data_root = 'data/toy_shapes'
img_scale = (128, 128)
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadBinaryMask'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    # Swaps "left"/"right" in the prompt together with the pixels.
    dict(type='TextAwareRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='TokenizePrompt'),
    dict(type='PackVLSMInputs'),
]
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadBinaryMask'),
    dict(type='TokenizePrompt'),
    dict(type='PackVLSMInputs'),
]
# The quickstart targets CPUs: no pinned memory (it only helps a GPU).
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    pin_memory=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    pin_memory=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
# One fixed prompt type ("<colour> <shape>") at test time; validation
# draws every type but p0.
test_dataloader = dict(
    batch_size=16,
    num_workers=2,
    pin_memory=False,
    dataset=dict(
        data_root=data_root, prompt_type='p2', pipeline=test_pipeline))

model = dict(
    type='CLIPSeg',
    # A from-scratch CLIPSeg: ViT 128 px / patch 8 (16x16 tokens), 3 layers
    # of width 64, all read by the decoder; text transformer 2 layers. With
    # patch 8 the decoder uses the single transposed convolution (kernel =
    # stride = patch), which returns logits at the input size. GELU instead
    # of CLIP's quick GELU: one fused kernel, and nothing pre-trained to
    # match.
    config=dict(
        text_config=dict(
            hidden_size=64,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=4,
            hidden_act='gelu'),
        vision_config=dict(
            hidden_size=64,
            intermediate_size=256,
            num_hidden_layers=3,
            num_attention_heads=4,
            image_size=128,
            patch_size=8,
            hidden_act='gelu'),
        projection_dim=64,
        extract_layers=[0, 1, 2],
        reduce_dim=48,
        decoder_num_attention_heads=4,
        decoder_intermediate_size=192,
        use_complex_transposed_convolution=False),
    # The real OpenAI CLIP BPE vocabulary, built offline from the copy
    # that mmseg ships.
    tokenizer=dict(type='openai_bpe'),
    context_length=32,
    data_preprocessor=dict(
        type='VLSMDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    losses=[
        dict(type='SigmoidBCELoss', loss_weight=1.0),
        dict(type='SoftDiceLoss', loss_weight=1.0),
    ],
    test_cfg=dict(threshold=0.5))

optim_wrapper = dict(
    type='OptimWrapper',
    # fused: one kernel for all parameters instead of a loop over them.
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-3, fused=True),
    clip_grad=dict(max_norm=0.5, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=50,
        end=650,
        eta_min=1e-5),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=650, val_interval=650)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=650, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # `tools/test.py --show-dir DIR` switches it on.
    visualization=dict(type='VLSMVisualizationHook', draw=False),
    # Trainable vs total parameters per module, logged when training starts.
    parameter_table=dict(type='ParameterTableHook'))
log_processor = dict(by_epoch=False)
