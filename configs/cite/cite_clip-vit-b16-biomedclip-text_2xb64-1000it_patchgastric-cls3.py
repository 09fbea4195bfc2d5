# CITE with BiomedCLIP's text tower (PubMedBERT, 256 tokens) as the text
# model, through open_clip: its encode_text feature, the [CLS] state through
# BiomedCLIP's MLP projection (512-d), the space BiomedCLIP aligned with
# images. The neck's width (512 -> 512) follows. open_clip loads the whole
# model, and needs the config of the text model its open_clip_config.json
# names in the HF cache.
_base_ = ['./cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
model = dict(
    head=dict(
        text_encoder=dict(
            _delete_=True,
            type='open_clip',
            model='hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-'
            'vit_base_patch16_224')))
