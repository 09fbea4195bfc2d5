# CITE with all-MiniLM-L6-v2 (a 6-layer sentence-transformers BERT; 384-d)
# as the text model. The mean of its token states: sentence-transformers
# trained it with mean pooling (its pooler took no part). The neck's
# width follows.
_base_ = ['./cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    head=dict(
        text_encoder=dict(
            model='sentence-transformers/all-MiniLM-L6-v2', key='mean')))
