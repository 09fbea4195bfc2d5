# PUNet phase 2, "decoder": the linear probe and the whole decoder body
# (its prompt pools excepted) train.
_base_ = ['./punet-fixed_1xb16-31200it_tcia-btcv-group2-to-spleen-256x256.py']
model = dict(
    adapt_cfg=dict(trainable=[
        'head',
        r're:decoder\.(?!.*(\.pools\.|prompt_embeddings|prompt_weights)).*'
    ]))
