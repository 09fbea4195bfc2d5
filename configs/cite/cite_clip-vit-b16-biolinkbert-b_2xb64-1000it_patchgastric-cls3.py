# CITE with BioLinkBERT-base (768-d) as the text model. Its pooler output,
# as CITE uses BioLinkBERT-large's: BioLinkBERT's document relation
# prediction objective trains the pooler on the [CLS] state. The neck's
# width follows.
_base_ = ['./cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    head=dict(
        text_encoder=dict(
            model='michiyasunaga/BioLinkBERT-base', key='pooler_output')))
