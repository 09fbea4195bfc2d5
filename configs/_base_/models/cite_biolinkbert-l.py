# CITE (Zhang et al., MICCAI 2023): a frozen image encoder with visual
# prompt tokens; its feature is mapped by a trainable linear neck to
# BioLinkBERT-large's 1024-d space and classified by cosine similarity to
# the class names' frozen embeddings, times exp(4.6052) = 100.
#
# The parts that do not depend on the image encoder: each encoder's config
# adds the backbone and the data_preprocessor (the encoder's mean and std).
# CITEClassifier sizes the neck and the head: the backbone's
# feature_channels in, the text embeddings' width out.
# BioLinkBERT-large comes from the Hugging Face Hub or its cache (or a
# local `save_pretrained` folder).
model = dict(
    type='CITEClassifier',
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
