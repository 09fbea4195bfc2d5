# PUNet phase 2 in 3D (`3d_flat`), "prompting": the 3D phase-1 model
# frozen, only the spleen's (class 1) prompts, its image-to-prompt bias
# embeddings and the shared bias projections train.
_base_ = [
    '../_base_/models/punet_3d.py', '../_base_/datasets/tcia_btcv_3d.py',
    '../_base_/schedules/punet_phase2.py', '../_base_/default_runtime.py'
]
new_class = 1
host_checkpoint = 'work_dirs/punet-3d-flat-meta-self_1xb4-124800it_tcia-btcv-group2-128x128x4/iter_124800.pth'
model = dict(
    additive_alpha={{_base_.additive_alpha}},
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
