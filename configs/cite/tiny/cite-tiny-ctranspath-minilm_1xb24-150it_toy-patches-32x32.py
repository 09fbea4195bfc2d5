# The tiny CITE with a 2-stage CTransPath-like Swin (ConvStem, 32-d tokens,
# 4x4 windows, 64-d feature, randomly initialised: nothing to download) in
# place of the ViT, trained end to end with CITE's text head on the toy
# patches. Setup as in ../cite-tiny-minilm_1xb24-150it_toy-patches-32x32.py.
_base_ = ['../cite-tiny-minilm_1xb24-150it_toy-patches-32x32.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinEncoder',
        # 32 px: an 8x8 token grid, then 4x4 (one window, not shifted).
        arch=dict(embed_dims=32, depths=[2, 2], num_heads=[2, 4]),
        conv_stem=True,
        img_size=32,
        window_size=4,
        drop_path_rate=0.,
        pretrained=None,
        frozen=False))
