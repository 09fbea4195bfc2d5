# medvlsm-format data, with pipelines at CLIPSeg's 352x352 input (a model
# with another input size sets the dataloaders' pipelines to the variants
# below). A dataset config based on this one sets `data_root` (and, if
# it wants, `prompt_type`) of the three dataloaders. Upstream resized to a
# square without keeping the aspect ratio and used no augmentation; flips,
# scaling and colour jitter are options: insert them into `train_pipeline`
# before TokenizePrompt (TextAwareRandomFlip keeps "left"/"right" in the
# prompt consistent with the flipped image).
dataset_type = 'MedVLSMDataset'
img_scale = (352, 352)
# Every prompt key except p0, drawn per sample (the VLSM-Adapter protocol);
# set a key such as 'p4' to train/evaluate one prompt type (medvlsm).
prompt_type = 'random'
# Upstream (medvlsm, VLSM-Adapter) resized PIL images with torchvision's
# Resize: PIL's antialiased bilinear for images, nearest for masks. mmcv's
# Resize with backend='pillow' calls the same PIL resize, so the models see
# upstream's pixels. 'cv2' is faster (see docs/benchmark.md) but does not
# antialias when downscaling: set resize_backend = 'cv2' here to switch
# every square pipeline below (all medvlsm-format configs). The pipelines
# are built in this file, so a config inheriting it switches by setting
# the Resize steps' `backend` instead, e.g. for one run: --cfg-options
# train_dataloader.dataset.pipeline.2.backend=cv2
# val_dataloader.dataset.pipeline.1.backend=cv2 (and test_dataloader's).
resize_backend = 'pillow'


def square_pipelines(side):
    """The train and test pipelines for a square model input.

    TokenizePrompt runs in the dataloader workers; its tokenizer and context
    length are the model's, filled in by the tools (see
    mmvlsm.utils.bind_prompt_tokenizer), so these pipelines fit every model.
    In the test pipeline the ground truth is loaded after the resize, so
    metrics and saved masks are at the original resolution.
    """
    train = [
        dict(type='LoadCheckedImageFromFile'),
        dict(type='LoadBinaryMask'),
        dict(
            type='Resize',
            scale=(side, side),
            keep_ratio=False,
            backend=resize_backend),
        dict(type='TokenizePrompt'),
        dict(type='PackVLSMInputs'),
    ]
    test = [
        dict(type='LoadCheckedImageFromFile'),
        dict(
            type='Resize',
            scale=(side, side),
            keep_ratio=False,
            backend=resize_backend),
        dict(type='LoadBinaryMask'),
        dict(type='TokenizePrompt'),
        dict(type='PackVLSMInputs'),
    ]
    return train, test


train_pipeline, test_pipeline = square_pipelines(img_scale[0])
# BiomedCLIPSeg's input: its configs set the dataloaders' `pipeline` (or,
# for pooled data, `dataset`; see endoscopy_pooled.py) to these.
train_pipeline_224x224, test_pipeline_224x224 = square_pipelines(224)
# CRIS's input, resized to the square as medvlsm did.
train_pipeline_416x416, test_pipeline_416x416 = square_pipelines(416)


def letterbox_pipelines(side):
    """``square_pipelines`` with official CRIS's letterbox for the resize.

    LetterBoxResize keeps the aspect ratio and centres the image in the
    square, the border in CLIP's mean colour; predictions are mapped back
    onto the original image without the border.
    """
    pipelines = square_pipelines(side)
    for pipeline in pipelines:
        for index, step in enumerate(pipeline):
            if step['type'] == 'Resize':
                pipeline[index] = dict(
                    type='LetterBoxResize', scale=(side, side))
    return pipelines


# CRIS's input as official CRIS fed it.
train_pipeline_letterbox_416x416, test_pipeline_letterbox_416x416 = \
    letterbox_pipelines(416)

# Decoding, resizing and tokenising happen in the workers; `default_collate`
# stacks the images there into one uint8 batch, which `pin_memory` lets the
# data preprocessor copy to the GPU asynchronously.
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    collate_fn=dict(type='default_collate'),
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
    pin_memory=True,
    collate_fn=dict(type='default_collate'),
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
    pin_memory=True,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file='anns/test.json',
        prompt_type=prompt_type,
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='DiceIoUMetric')
test_evaluator = val_evaluator
