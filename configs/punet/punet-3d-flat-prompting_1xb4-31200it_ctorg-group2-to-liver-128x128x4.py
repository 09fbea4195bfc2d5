# PUNet phase 2 in 3D (`3d_flat`) on CT-ORG, "prompting": only the liver's
# (1) prompts train on the frozen group-2 model.
_base_ = [
    '../_base_/models/punet_3d.py', '../_base_/datasets/ctorg_3d.py',
    '../_base_/schedules/punet_phase2.py', '../_base_/default_runtime.py'
]
new_class = 1
model = dict(
    additive_alpha={{_base_.additive_alpha}},
    cpa_loss=dict(loss_weight=0.0),
    adapt_cfg=dict(
        host_checkpoint='work_dirs/'
        'punet-3d-flat-meta-self_1xb4-124800it_ctorg-group2-128x128x4/'
        'iter_124800.pth',
        trainable=[
            rf're:(backbone|decoder|head)\..*\.prompts\.{new_class}',
            rf're:(backbone|decoder)\..*\.prompt_embeddings\.{new_class}',
            r're:(backbone|decoder)\..*\.prompt_weights'
        ]))
train_dataloader = dict(dataset=dict(active_classes=[new_class]))
val_dataloader = dict(dataset=dict(active_classes=[new_class]))
test_dataloader = dict(dataset=dict(active_classes=[new_class]))
