# PUNet phase 2, full fine-tuning: the phase-1 model, prompts included,
# trains whole on the new class (PUNet's "nonfrozen").
_base_ = [
    './punet-prompting_1xb16-31200it_tcia-btcv-group2-to-spleen-256x256.py'
]
model = dict(adapt_cfg=None)
load_from = 'work_dirs/punet-meta-self_1xb16-124800it_tcia-btcv-group2-256x256/iter_124800.pth'
