# The tiny CITE with a tiny random ViT saved as MAE saves its pre-trained
# encoders ({'model': ...} with the decoder, as RETFound's), loaded as the
# cite_mae-vit-* configs load theirs.
#   python tools/misc/generate_tiny_vits.py
_base_ = ['./cite-tiny-timm-vit-minilm_1xb24-150it_toy-patches-32x32.py']
model = dict(
    backbone=dict(
        pretrained='checkpoints/tiny_vits/mae_pretrain_vit_tiny.pth',
        pretrained_format='mae'))
