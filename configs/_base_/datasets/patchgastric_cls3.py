# CITE's 3-class PatchGastric (PatchGastricADC22, 300 px patches of 693
# slides): `python tools/dataset_converters/patchgastric.py --data-root
# data/patchgastric` writes the annotation files next to captions.csv and
# patches_captions/. Training on the 20% of slides of train_all_0.2.txt
# (the k-shot configs pick train_{k}_0.2.txt), validation and test on the
# other 80% (val_0.8.txt), as upstream.
dataset_type = 'SlidePatchDataset'
data_root = 'data/patchgastric'
data_prefix = 'patches_captions'
classes = ('Well differentiated tubular adenocarcinoma',
           'Moderately differentiated tubular adenocarcinoma',
           'Poorly differentiated adenocarcinoma')

# CITE's augmentations (torchvision in upstream): resize to 224, colour
# jitter, horizontal and vertical flips, a random multiple of 90 degrees.
# Normalisation uses ImageNet statistics as upstream does (not CLIP's),
# see the model's data_preprocessor.
# Upstream resized PIL images with torchvision's Resize (PIL's antialiased
# bilinear); mmcv's Resize with backend='pillow' calls the same PIL resize.
# Set resize_backend = 'cv2' here for the faster OpenCV resize (no
# antialiasing: other pixels than upstream's, see docs/benchmark.md).
resize_backend = 'pillow'
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='Resize', scale=(224, 224), backend=resize_backend),
    dict(type='ColorJitter', brightness=0.2, saturation=(0., 0.2), hue=0.1),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRot90'),
    dict(
        type='PackInputs',
        meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                   'slide_id')),
]
# Upstream evaluates with the training augmentations (its test pipeline has
# test_mode=False, so results are random); here evaluation is
# deterministic. To reproduce upstream, set the val/test datasets'
# pipeline to train_pipeline.
test_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='Resize', scale=(224, 224), backend=resize_backend),
    dict(
        type='PackInputs',
        meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                   'slide_id')),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    # Class-balanced batches (CITE's patch_balance, "cb" in its run names).
    sampler=dict(type='ClassBalancedInfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='gastric_cls3_ann/train_all_0.2.txt',
        data_prefix=data_prefix,
        classes=classes,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='gastric_cls3_ann/val_0.8.txt',
        data_prefix=data_prefix,
        classes=classes,
        check_slide_labels=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Patch accuracy, per-class accuracy, and slide accuracy by averaging the
# patch probabilities of each slide.
val_evaluator = dict(type='SlideAccuracy')
test_evaluator = val_evaluator
