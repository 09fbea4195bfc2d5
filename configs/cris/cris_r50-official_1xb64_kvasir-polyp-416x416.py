# CRIS (R50) trained on Kvasir-SEG with the official CRIS recipe: CLIP RN50
# initialisation, letterboxed 416x416 inputs, 17-token prompts, decoder
# dropout 0.1, BCE on the 1/4-resolution logits, Adam at lr 1e-4 with CLIP
# at 1/10 of it, batch 64, 50 epochs.
_base_ = [
    '../_base_/models/cris_r50.py',
    '../_base_/datasets/kvasir_polyp.py',
    '../_base_/schedules/cris_official.py',
    '../_base_/default_runtime.py',
]
model = dict(
    decode_head=dict(dropout=0.1),
    context_length=17,
    losses=[dict(type='SigmoidBCELoss')],
    train_cfg=dict(loss_size='logits'))
# drop_last: the FPN's BatchNorm1d on the sentence feature needs two or
# more samples per training batch (official CRIS drops the last batch too).
train_dataloader = dict(
    batch_size=64,
    drop_last=True,
    dataset=dict(pipeline={{_base_.train_pipeline_letterbox_416x416}}))
val_dataloader = dict(
    dataset=dict(pipeline={{_base_.test_pipeline_letterbox_416x416}}))
test_dataloader = dict(
    dataset=dict(pipeline={{_base_.test_pipeline_letterbox_416x416}}))
