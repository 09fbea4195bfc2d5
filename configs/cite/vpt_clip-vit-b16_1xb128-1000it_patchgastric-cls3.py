# Baseline: visual prompt tuning (one prompt token, normal(0.02) init) of
# the frozen CLIP ViT-B/16 with a linear head (CITE's
# "vpt_clip-vitb16_bs128_i1000"): 768 + 1,539 = 2,307 trainable
# parameters, lr 0.01, random batches of 128.
_base_ = ['./linear-probe_clip-vit-b16_1xb128-1000it_patchgastric-cls3.py']
model = dict(backbone=dict(prompt_length=1, prompt_init='normal'))
