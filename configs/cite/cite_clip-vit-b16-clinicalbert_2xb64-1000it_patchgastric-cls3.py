# CITE with ClinicalBERT (Bio_ClinicalBERT, BioBERT further pretrained on
# MIMIC-III notes; 768-d) as the text model. Its pooler output: it was
# pretrained with BERT's next sentence prediction, which trains the pooler.
# The neck's width follows.
_base_ = ['./cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    head=dict(
        text_encoder=dict(
            model='emilyalsentzer/Bio_ClinicalBERT', key='pooler_output')))
