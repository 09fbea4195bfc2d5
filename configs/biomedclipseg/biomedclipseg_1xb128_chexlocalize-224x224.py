# BiomedCLIPSeg fine-tuned on CheXlocalize with the medvlsm recipe.
_base_ = [
    '../_base_/models/biomedclipseg_vit-b16.py',
    '../_base_/datasets/chexlocalize.py',
    '../_base_/schedules/medvlsm_clipseg.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.train_pipeline_224x224}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_224x224}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_224x224}}))
