# CRIS (R50) fine-tuned on BKAI-IGH with the medvlsm recipe.
_base_ = [
    './_base_/cris_r50_medvlsm.py',
    '../_base_/datasets/bkai_polyp.py',
]
train_dataloader = dict(
    batch_size=32, dataset=dict(pipeline={{_base_.train_pipeline_416x416}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_416x416}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_416x416}}))
