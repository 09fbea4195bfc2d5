# TCIA/BTCV multi-organ CT as 2D slices for PUNet: `python
# tools/dataset_converters/ct_multiorgan.py --dataset tcia_btcv --data-root
# RAW --out-dir data/tcia_btcv` writes 280 x 280 slices at 1.25 mm (HU
# window [-1000, 1000] as 0..255) with the classes 0 background, 1 spleen,
# 2 left kidney, 3 gallbladder, 4 esophagus, 5 liver, 6 stomach, 7
# pancreas, 8 duodenum, and subject-level 70/10/20 splits per domain.
# Training draws one active class per crop from the dataset's
# active_classes; evaluation scores every slice once per class, reported
# per class (the dataset name carries the class).
# PUNet's additive focal-loss alpha per class (inverse foreground ratios);
# the model configs pass it on (model.additive_alpha).
additive_alpha = [
    0., 0.0759, 0.1337, 0.8596, 1.6762, 0.0133, 0.0545, 0.2929, 0.2512
]
# Class names by label (the inference tools take them as --class).
class_names = [
    'background', 'spleen', 'left kidney', 'gallbladder', 'esophagus',
    'liver', 'stomach', 'pancreas', 'duodenum'
]
# The converter's CT window, for volumes given to the inference tools.
volume_window = dict(level=0, width=2000)
dataset_type = 'MultiClassSliceDataset'
data_root = 'data/tcia_btcv'
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
             'pad_shape', 'scale_factor', 'flip', 'flip_direction',
             'img_name', 'mask_name', 'dataset_name', 'subject', 'slice',
             'active_class')
# The teacher's 256 x 256 crop; the model crops the students from it.
train_pipeline = [
    dict(type='LoadCheckedImageFromFile', color_type='grayscale'),
    dict(type='LoadAnnotations'),
    dict(type='RandomActiveClass'),
    dict(type='BinarizeActiveClass'),
    dict(type='RandomCrop', crop_size=(256, 256)),
    dict(type='PackVLSMInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadCheckedImageFromFile', color_type='grayscale'),
    dict(type='LoadAnnotations'),
    dict(type='BinarizeActiveClass'),
    dict(type='PackVLSMInputs', meta_keys=meta_keys),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='anns/train.json',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='anns/val.json',
        expand_classes=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='anns/test.json',
        expand_classes=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='DiceIoUMetric')
test_evaluator = val_evaluator
