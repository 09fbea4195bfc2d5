# CITE with RETFound (Zhou et al., Nature 2023), MAE's ViT-L/16 pre-trained
# on colour fundus photographs, frozen, with one learned visual prompt
# token. The checkpoint is MAE's layout with its decoder (left out on
# load); the feature is the class token as for MAE (RETFound's fine-tuning
# pools the patch tokens through a new fc_norm that a frozen encoder lacks;
# feature='mean' averages the normed patch tokens instead).
# Weights: RETFound_cfp_weights.pth in checkpoints/.
_base_ = ['./cite_mae-vit-l16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(backbone=dict(pretrained='checkpoints/RETFound_cfp_weights.pth'))
