# PUNet (Fischer et al., MedIA): a prompt-able UNet, in PUNet's `2d`
# setting (8 x 8 windows, 1-channel CT in [-1, 1]). Body 6,758,304
# parameters; each class has 52,736 own prompt parameters (16 tokens in
# every pool and its image-to-prompt bias), plus 4,608 shared bias
# projections. Phase 1 (this file's default): focal loss on two student
# crops and the contrastive prototype loss against an EMA teacher.
num_prompt_classes = 10  # PUNet's instruction_pool_size
punet_channels = (32, 64, 128, 256, 384)
model = dict(
    type='PUNet',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        # Slices are stored with the HU window [-1000, 1000] as 0..255;
        # PUNet scales it to [-1, 1].
        mean=[127.5],
        std=[127.5],
        size_divisor=2,
        pad_val=0,
        seg_pad_val=0),
    backbone=dict(
        type='PUNetEncoder',
        in_channels=1,
        channels=punet_channels,
        heads=8,
        window=(8, 8),
        num_classes=num_prompt_classes,
        num_tokens=16),
    decoder=dict(
        type='PUNetDecoder',
        channels=punet_channels,
        heads=8,
        window=(8, 8),
        num_classes=num_prompt_classes,
        num_tokens=16),
    head=dict(
        type='SimilarityAggregationHead',
        channels=32,
        num_classes=num_prompt_classes,
        num_tokens=16,
        sigma=0.1),
    seg_loss=dict(type='FocalLoss', gamma=4.0),
    alpha=(1.0, 1.0),
    cpa_loss=dict(type='ContrastivePrototypeLoss', loss_weight=1e-2),
    # PUNet 2D: students see 224 and 160 crops of the 256 teacher crop.
    student_sizes=((224, 224), (160, 160)),
    momentum=0.99)
