# Baseline: CITE's text head (a trainable linear neck to BioLinkBERT-large's
# 1024-d space, cosine to the class names' frozen embeddings) on a frozen
# ResNet-50's pooled 2048-d feature: a linear probe with text, without
# visual prompts (a CNN has no token sequence to prepend them to). As
# CITE's linear probe baseline: lr 0.01, random batches of 128.
# Trainable: the neck, 2048 x 1024 + 1024 = 2,098,176.
#
# Weights: a ResNet-50 in torchvision's layout, e.g. ImageNet's
# https://download.pytorch.org/models/resnet50-11ad3fa6.pth, or a
# REMEDIS-style (SimCLR on medical images) ResNet-50 converted to it
# (REMEDIS's own TensorFlow BiT checkpoints do not fit, see the README).
# timm (pretrained_format='timm', e.g. 'hf-hub:timm/resnet50.a1_in1k') and
# mmpretrain checkpoints load too.
_base_ = [
    './cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py'
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetEncoder',
        depth=50,
        pretrained='checkpoints/resnet50-11ad3fa6.pth',
        pretrained_format='torchvision',
        frozen=True))
optim_wrapper = dict(optimizer=dict(lr=0.01))
train_dataloader = dict(
    batch_size=128, sampler=dict(_delete_=True, type='InfiniteSampler'))
