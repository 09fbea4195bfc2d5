# medvlsm-format data, with pipelines at CLIPSeg's 352x352 input (a model
# with another input size replaces `train_pipeline`/`test_pipeline` in the
# dataloaders). A dataset config based on this one sets `data_root` (and, if
# it wants, `prompt_type`) of the three dataloaders. Upstream resized to a square without keeping the aspect ratio
# and used no augmentation; flips, scaling and colour jitter are options:
# insert them into `train_pipeline` (TextAwareRandomFlip keeps "left"/"right"
# in the prompt consistent with the flipped image).
dataset_type = 'MedVLSMDataset'
img_scale = (352, 352)
# Every prompt key except p0, drawn per sample (the VLSM-Adapter protocol);
# set a key such as 'p4' to train/evaluate one prompt type (medvlsm).
prompt_type = 'random'
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
             'scale_factor', 'flip', 'flip_direction', 'text', 'prompt_key',
             'img_name', 'mask_name', 'dataset_name')

train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadBinaryMask'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
# The ground truth is loaded after the resize, so metrics and saved masks
# are at the original resolution.
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadBinaryMask'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file='anns/train.json',
        prompt_type=prompt_type,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file='anns/val.json',
        prompt_type=prompt_type,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file='anns/test.json',
        prompt_type=prompt_type,
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='DiceIoUMetric')
test_evaluator = val_evaluator
