# The tiny CITE with a narrow ResNet-18 (16 base channels, 128-d feature,
# randomly initialised: nothing to download) in place of the ViT, trained
# end to end with CITE's text head on the toy patches, for smoke tests and
# CI. Setup as in ../cite-tiny-minilm_1xb24-150it_toy-patches-32x32.py.
_base_ = ['../cite-tiny-minilm_1xb24-150it_toy-patches-32x32.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetEncoder',
        depth=18,
        stem_channels=16,
        base_channels=16,
        pretrained=None,
        frozen=False))
