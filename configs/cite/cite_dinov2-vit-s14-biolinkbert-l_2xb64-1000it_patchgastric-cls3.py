# CITE with DINOv2's ViT-S/14 (Oquab et al., 2023; register-free, with
# LayerScale), frozen, with one learned visual prompt token. The feature is
# DINOv2's linear-probe feature: the final-normed class token concatenated
# with the mean of the normed patch tokens (the prompt left out), 768-d.
# Its position embedding, trained at 518 px (37 x 37 patches), is resized
# to 224 px (16 x 16) on load, bicubically.
# Weights: DINOv2's dinov2_vits14_pretrain.pth in checkpoints/ (the address
# is in the error raised when it is missing).
_base_ = ['./cite_vit-b16-in21k-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    data_preprocessor=dict(
        # ImageNet statistics, as DINOv2's.
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    backbone=dict(
        arch='dinov2-small',
        patch_size=14,
        # Loaded from the checkpoint (ls1/ls2.gamma).
        layer_scale_init_value=1e-5,
        feature='cls_mean',
        pretrained='checkpoints/dinov2_vits14_pretrain.pth',
        pretrained_format='dinov2'))
