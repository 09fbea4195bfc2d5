# CLIPSeg on Kvasir-SEG with augmentation, which upstream did not use:
# horizontal flips that keep "left"/"right" in the prompt true, +-20% zoom
# (crop or zero-pad back to 352x352; the padding is background, not an
# ignored label, since the losses have none), and photometric distortion.
# Zoom is kept mild so that position words ("located in right of the
# image") still hold.
_base_ = './clipseg-rd64-refined_1xb128_kvasir-polyp-352x352.py'
img_scale = (352, 352)
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadBinaryMask'),
    # As upstream (see resize_backend in _base_/datasets/medvlsm.py); the
    # zoom below is an augmentation of this config's own and stays cv2.
    dict(
        type='Resize',
        scale=img_scale,
        keep_ratio=False,
        backend={{_base_.resize_backend}}),
    dict(
        type='RandomResize',
        scale=img_scale,
        ratio_range=(0.8, 1.2),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=img_scale),
    dict(type='Pad', size=img_scale, pad_val=dict(img=0, seg=0)),
    dict(type='TextAwareRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PhotoMetricDistortion'),
    dict(type='TokenizePrompt'),
    dict(type='PackVLSMInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
