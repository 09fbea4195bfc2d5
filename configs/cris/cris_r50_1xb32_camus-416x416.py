# CRIS (R50) fine-tuned on CAMUS with the medvlsm recipe.
_base_ = [
    './_base_/cris_r50_medvlsm.py',
    '../_base_/datasets/camus.py',
]
# drop_last: the FPN's BatchNorm1d on the sentence feature needs two or
# more samples per training batch (official CRIS drops the last batch too).
train_dataloader = dict(
    batch_size=32,
    drop_last=True,
    dataset=dict(pipeline={{_base_.train_pipeline_416x416}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_416x416}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_416x416}}))
