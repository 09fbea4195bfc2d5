# PUNet phase 2, "bias": the linear probe and every bias and norm parameter
# of the body.
_base_ = ['./punet-fixed_1xb16-31200it_tcia-btcv-group2-to-spleen-256x256.py']
model = dict(
    adapt_cfg=dict(trainable=[
        'head', r're:(backbone|decoder)\..*(\.bias|norm\w*\.weight)'
    ]))
