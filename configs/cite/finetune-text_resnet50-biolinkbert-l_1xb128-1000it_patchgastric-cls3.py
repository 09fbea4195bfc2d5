# Baseline: CITE's text head on a fully fine-tuned ResNet-50 (batch norm in
# training mode); as CITE's fine-tuning baseline, lr 1e-5, random batches
# of 128. Trainable: 23,508,032 (encoder) + 2,098,176 (neck).
_base_ = [
    './linear-probe-text_resnet50-biolinkbert-l_1xb128-1000it_'
    'patchgastric-cls3.py'
]
model = dict(backbone=dict(frozen=False))
optim_wrapper = dict(optimizer=dict(lr=1e-5))
