# CITE (Zhang et al., MICCAI 2023): a frozen image encoder with visual
# prompt tokens; its feature is mapped by a trainable linear neck to
# BioLinkBERT-large's 1024-d space and classified by cosine similarity to
# the class names' frozen embeddings, times exp(4.6052) = 100.
#
# The parts that do not depend on the image encoder: each encoder's config
# adds the backbone (PromptedViT), the data_preprocessor (the encoder's
# mean and std) and the neck's in_channels (the encoder's feature width).
# BioLinkBERT-large comes from the Hugging Face Hub or its cache (or a
# local `save_pretrained` folder).
model = dict(
    type='ImageClassifier',
    neck=dict(
        type='ProjectionNeck', out_channels=1024, init='normal_identity'),
    head=dict(
        type='TextEmbeddingHead',
        # Set by the config from its dataset's class names.
        texts=None,
        text_encoder=dict(
            type='bert',
            model='michiyasunaga/BioLinkBERT-large',
            key='pooler_output'),
        in_channels=1024,
        temperature=4.6052,
        learnable_temperature=False,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
