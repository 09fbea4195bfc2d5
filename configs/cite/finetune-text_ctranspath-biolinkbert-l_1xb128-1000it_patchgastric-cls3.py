# Baseline: CITE's text head on fully fine-tuned CTransPath (drop path 0.1,
# as timm's Swin-T); as CITE's fine-tuning baseline, lr 1e-5, random
# batches of 128. Trainable: 27,520,038 (encoder) + 787,456 (neck).
_base_ = [
    './linear-probe-text_ctranspath-biolinkbert-l_1xb128-1000it_'
    'patchgastric-cls3.py'
]
model = dict(backbone=dict(frozen=False))
optim_wrapper = dict(optimizer=dict(lr=1e-5))
