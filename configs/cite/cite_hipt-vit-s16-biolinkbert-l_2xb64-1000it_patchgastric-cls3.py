# CITE with HIPT's ViT-256 (Chen et al., CVPR 2022): DINO's ViT-S/16
# pre-trained on 256 px TCGA regions, frozen, with one learned visual
# prompt token; its 384-d final-normed class token (HIPT's region feature)
# goes to the neck. 224 px inputs: the checkpoint's own 14 x 14 grid
# (DINO's default image size, HIPT interpolates it for 256 px regions) and
# the PatchGastric pipeline's size, so nothing is interpolated.
# Weights: HIPT's vit256_small_dino.pth (a DINO training checkpoint: its
# teacher is loaded, DINO's head left out) in checkpoints/.
_base_ = ['./cite_vit-b16-in21k-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    # HIPT's statistics: 0.5 for every channel (inherited).
    backbone=dict(
        arch='deit-small',
        pretrained='checkpoints/vit256_small_dino.pth',
        pretrained_format='dino'))
