# PUNet phase 2, "adapter": the linear probe and bottleneck adapters
# (C -> C/4 -> C) in all 18 attention blocks.
_base_ = ['./punet-fixed_1xb16-31200it_tcia-btcv-group2-to-spleen-256x256.py']
model = dict(
    backbone=dict(adapter=True),
    decoder=dict(adapter=True),
    adapt_cfg=dict(
        new_modules=['head', r're:.*\.adapter\..*'],
        trainable=['head', r're:(backbone|decoder)\..*\.adapter\..*']))
