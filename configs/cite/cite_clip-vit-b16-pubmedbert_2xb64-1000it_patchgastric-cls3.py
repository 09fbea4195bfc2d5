# CITE with PubMedBERT (BiomedBERT, abstracts + full text; 768-d) as the
# text model. The embedding is the raw [CLS] state: PubMedBERT is released
# as a masked-language model (BertForMaskedLM), without a pooler trained by
# a sentence-level objective, and BiomedCLIP's text tower, initialised from
# PubMedBERT, pools the [CLS] state too. The neck's width follows.
_base_ = ['./cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    head=dict(
        text_encoder=dict(
            model='microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-'
            'fulltext',
            key='cls')))
