# CITE with MAE's pre-trained ViT-B/16 encoder (He et al., CVPR 2022),
# frozen, with one learned visual prompt token. The feature is the
# final-normed class token, as in MAE's linear probing: the pre-trained
# encoder has no fc_norm (its global-pool fine-tuning learns a new one).
# Weights: MAE's mae_pretrain_vit_base.pth in checkpoints/ (the address is
# in the error raised when it is missing).
_base_ = ['./cite_vit-b16-in21k-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    data_preprocessor=dict(
        # ImageNet statistics, as MAE's.
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    backbone=dict(
        pretrained='checkpoints/mae_pretrain_vit_base.pth',
        pretrained_format='mae'))
