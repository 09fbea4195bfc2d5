# The tiny CITE (../cite-tiny-minilm_1xb24-150it_toy-patches-32x32.py) with
# a tiny random ViT saved as timm saves vit_base_patch16_224.augreg_in21k
# (model.safetensors, classifier included), loaded as the full-size
# cite_vit-b16-in21k config loads it: for smoke tests of the timm layout.
#   python tools/misc/generate_toy_patches.py --out-dir data/toy_patches
#   python tools/misc/generate_tiny_vits.py
#   mim train mmvlsm configs/cite/tiny/cite-tiny-timm-vit-minilm_1xb24-150it_toy-patches-32x32.py
_base_ = ['../cite-tiny-minilm_1xb24-150it_toy-patches-32x32.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='PromptedViT',
        # mmvlsm.testing.TINY_PROMPTED_VITS
        arch=dict(
            embed_dims=32, num_layers=2, num_heads=2,
            feedforward_channels=128),
        img_size=32,
        patch_size=8,
        drop_rate=0.,
        norm_cfg=dict(type='LN', eps=1e-6),
        feature='cls',
        pretrained='checkpoints/tiny_vits/vit_tiny_patch8_32.augreg_in21k/'
        'model.safetensors',
        pretrained_format='timm',
        prompt_length=1,
        prompt_layers=(0, ),
        prompt_init='token',
        freeze_vit=True))
