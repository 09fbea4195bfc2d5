# Baseline: CITE's text head on frozen CTransPath (Wang et al., 2022; a
# Swin-T with a convolutional stem, self-supervised on histopathology),
# its 768-d final-normed, average-pooled feature; no visual prompts (Swin's
# windowed attention has no global token sequence to prepend them to). As
# CITE's linear probe baseline: lr 0.01, random batches of 128.
# Trainable: the neck, 768 x 1024 + 1024 = 787,456.
#
# Weights: the authors' ctranspath.pth (linked from
# https://github.com/Xiyue-Wang/TransPath) in checkpoints/; its timm port
# loads with pretrained_format='timm' and
# pretrained='hf-hub:1aurent/swin_tiny_patch4_window7_224.CTransPath'.
# CTransPath normalises with ImageNet statistics, as the base config does.
_base_ = [
    './cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py'
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinEncoder',
        arch='tiny',
        conv_stem=True,
        img_size=224,
        window_size=7,
        drop_path_rate=0.1,
        pretrained='checkpoints/ctranspath.pth',
        pretrained_format='ctranspath',
        frozen=True))
optim_wrapper = dict(optimizer=dict(lr=0.01))
train_dataloader = dict(
    batch_size=128, sampler=dict(_delete_=True, type='InfiniteSampler'))
