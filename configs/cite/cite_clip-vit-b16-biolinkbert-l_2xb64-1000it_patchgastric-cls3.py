# CITE on PatchGastric 3-class with CLIP ViT-B/16's image encoder, frozen,
# with one learned visual prompt token; its projected 512-d class token
# goes to the neck. Trainable: prompt 768 + neck 525,312 = 526,080.
# Weights: OpenAI's ViT-B-16.pt in checkpoints/ (the download address is in
# the error raised when it is missing).
#   bash tools/dist_train.sh \
#       configs/cite/cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py 2
_base_ = ['./_base_/cite_biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=3,
        # ImageNet statistics: CITE's pipeline normalises with them, not
        # with CLIP's.
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='PromptedViT',
        # CLIP ViT-B/16 in mmpretrain's VisionTransformer (CLIP's
        # LayerNorm eps, not mmpretrain's 1e-6) with CLIP's projection.
        arch='base',
        img_size=224,
        patch_size=16,
        drop_rate=0.,
        pre_norm=True,
        norm_cfg=dict(type='LN', eps=1e-5),
        layer_cfgs=dict(act_cfg=dict(type='QuickGELU')),
        feature='cls',
        proj=True,
        proj_channels=512,
        pretrained='checkpoints/ViT-B-16.pt',
        pretrained_format='clip',
        # Shallow VPT, one token after the class token, initialised with
        # the mean token of the first training batch (once per run).
        prompt_length=1,
        prompt_layers=(0, ),
        prompt_init='token',
        freeze_vit=True))
