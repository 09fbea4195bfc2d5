# PUNet phase 2, "prompting": the phase-1 model frozen, only the new class's
# (1, spleen) prompts train: its 16 tokens in every pool, its
# image-to-prompt bias embeddings, and the shared bias projections (57,344
# parameters, 0.85% of the body). Batch norms stay as pre-trained.
_base_ = [
    '../_base_/models/punet_2d.py', '../_base_/datasets/tcia_btcv_2d.py',
    '../_base_/schedules/punet_phase2.py', '../_base_/default_runtime.py'
]
new_class = 1
host_checkpoint = 'work_dirs/punet-meta-self_1xb16-124800it_tcia-btcv-group2-256x256/iter_124800.pth'
model = dict(
    additive_alpha={{_base_.additive_alpha}},
    # No contrastive loss downstream; the teacher is kept so that the
    # phase-1 checkpoint fits.
    cpa_loss=dict(loss_weight=0.0),
    adapt_cfg=dict(
        host_checkpoint=host_checkpoint,
        trainable=[
            rf're:(backbone|decoder|head)\..*\.prompts\.{new_class}',
            rf're:(backbone|decoder)\..*\.prompt_embeddings\.{new_class}',
            r're:(backbone|decoder)\..*\.prompt_weights'
        ]))
train_dataloader = dict(dataset=dict(active_classes=[new_class]))
val_dataloader = dict(dataset=dict(active_classes=[new_class]))
test_dataloader = dict(dataset=dict(active_classes=[new_class]))
