# Baseline: full fine-tuning of CLIP ViT-B/16 (about 86M parameters) with a
# linear head (CITE's "finetune_clip-vitb16_bs128_i1000"), lr 1e-5, random
# batches of 128.
_base_ = ['./linear-probe_clip-vit-b16_1xb128-1000it_patchgastric-cls3.py']
model = dict(backbone=dict(freeze_vit=False))
optim_wrapper = dict(optimizer=dict(lr=1e-5))
