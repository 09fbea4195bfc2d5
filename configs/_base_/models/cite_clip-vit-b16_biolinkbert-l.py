# CITE (Zhang et al., MICCAI 2023): CLIP ViT-B/16's image encoder, frozen,
# with one learned visual prompt token; its projected 512-d class token is
# mapped by a trainable linear neck to BioLinkBERT-large's 1024-d space and
# classified by cosine similarity to the class names' frozen embeddings,
# times exp(4.6052) = 100. Trainable: prompt 768 + neck 525,312 = 526,080.
#
# Weights: OpenAI's ViT-B-16.pt in checkpoints/ (the download address is in
# the error raised when it is missing); BioLinkBERT-large from the Hugging
# Face Hub or its cache (or a local `save_pretrained` folder).
model = dict(
    # ImageClassifier that sizes the neck (512 -> 1024) and the head from
    # the backbone's feature and the text embeddings.
    type='CITEClassifier',
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
        proj=True,
        proj_channels=512,
        clip_pretrained='checkpoints/ViT-B-16.pt',
        # Shallow VPT, one token after the class token, initialised with
        # the mean token of the first training batch (once per run).
        prompt_length=1,
        prompt_layers=(0, ),
        prompt_init='token',
        freeze_vit=True),
    neck=dict(type='ProjectionNeck', init='normal_identity'),
    head=dict(
        type='TextEmbeddingHead',
        # Set by the config from its dataset's class names.
        texts=None,
        text_encoder=dict(
            type='bert',
            model='michiyasunaga/BioLinkBERT-large',
            key='pooler_output'),
        temperature=4.6052,
        learnable_temperature=False,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
