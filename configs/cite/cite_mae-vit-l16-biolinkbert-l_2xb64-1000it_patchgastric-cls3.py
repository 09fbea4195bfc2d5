# CITE with MAE's pre-trained ViT-L/16 encoder, frozen, with one learned
# visual prompt token; its 1024-d class token goes to the neck.
# Weights: MAE's mae_pretrain_vit_large.pth in checkpoints/.
_base_ = ['./cite_mae-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    backbone=dict(
        arch='large', pretrained='checkpoints/mae_pretrain_vit_large.pth'))
