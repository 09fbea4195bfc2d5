# PUNet phase 2, "fixed": a linear probe (FixedOutputHead, 130
# parameters) on the frozen, non-prompted phase-1 embedding.
_base_ = [
    './punet-prompting_1xb16-31200it_tcia-btcv-group2-to-spleen-256x256.py'
]
model = dict(
    backbone=dict(prompted=False),
    decoder=dict(prompted=False),
    head=dict(_delete_=True, type='FixedOutputHead', channels=32),
    adapt_cfg=dict(new_modules=['head'], trainable=['head']))
