# CITE with an ImageNet-21k ViT-B/16 (timm's vit_base_patch16_224.augreg_in21k,
# "How to train your ViT"), frozen, with one learned visual prompt token;
# the final-normed class token (768-d, what its classifier was trained on)
# goes to the neck.
# Weights: timm's Hub repo, downloaded to checkpoints/:
#   hf download timm/vit_base_patch16_224.augreg_in21k \
#       --local-dir checkpoints/vit_base_patch16_224.augreg_in21k
_base_ = ['./_base_/cite_biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=3,
        # augreg's statistics: 0.5 for every channel.
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        to_rgb=True),
    backbone=dict(
        type='PromptedViT',
        arch='base',
        img_size=224,
        patch_size=16,
        drop_rate=0.,
        norm_cfg=dict(type='LN', eps=1e-6),
        feature='cls',
        pretrained='checkpoints/vit_base_patch16_224.augreg_in21k/'
        'model.safetensors',
        pretrained_format='timm',
        # CITE's shallow VPT: one token, initialised with the mean token of
        # the first training batch (once per run).
        prompt_length=1,
        prompt_layers=(0, ),
        prompt_init='token',
        freeze_vit=True))
