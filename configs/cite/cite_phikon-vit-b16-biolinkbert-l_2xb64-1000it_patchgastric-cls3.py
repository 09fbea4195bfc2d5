# CITE with Phikon (Filiot et al., 2023), Owkin's iBOT ViT-B/16 pre-trained
# on 40M TCGA pathology tiles, frozen, with one learned visual prompt
# token; its final-normed class token (Phikon's recommended feature) goes
# to the neck.
# Weights: the Hugging Face model owkin/phikon, from the Hub or its cache
# (or a local `save_pretrained` folder in its place).
_base_ = ['./cite_vit-b16-in21k-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    data_preprocessor=dict(
        # ImageNet statistics, as Phikon's image processor.
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    backbone=dict(
        # transformers' ViT LayerNorm eps (Phikon's config.json).
        norm_cfg=dict(type='LN', eps=1e-12),
        pretrained='owkin/phikon',
        pretrained_format='hf_vit'))
