# A tiny BiomedCLIPSeg on the toy shapes data, for smoke tests and CI: the
# quickstart's data and runtime, 224x224 inputs, and in place of BiomedCLIP
# a tiny random open_clip model of the same kind (timm ViT/16 + BERT),
# written by `python tools/misc/generate_tiny_open_clip.py` to
# data/tiny_biomedclip. Forty iterations at batch 16 (1.3 s each) and the
# validation take about 90 seconds on a 2-core CPU.
_base_ = ['../quickstart/clipseg-tiny_1xb16-650it_toy-shapes-128x128.py']

model = dict(
    _delete_=True,
    type='BiomedCLIPSeg',
    pretrained='local-dir:data/tiny_biomedclip',
    data_preprocessor=dict(
        type='VLSMDataPreProcessor',
        mean=[122.7709383, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.train_pipeline_224x224}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_224x224}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_224x224}}))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10)
]
train_cfg = dict(max_iters=40, val_interval=40)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=40))
