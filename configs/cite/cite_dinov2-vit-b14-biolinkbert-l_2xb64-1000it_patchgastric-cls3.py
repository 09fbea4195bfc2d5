# CITE with DINOv2's ViT-B/14, as the ViT-S/14 config: the class token and
# the mean patch token concatenated, 1536-d.
# Weights: DINOv2's dinov2_vitb14_pretrain.pth in checkpoints/.
_base_ = ['./cite_dinov2-vit-s14-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    backbone=dict(
        arch='base', pretrained='checkpoints/dinov2_vitb14_pretrain.pth'))
