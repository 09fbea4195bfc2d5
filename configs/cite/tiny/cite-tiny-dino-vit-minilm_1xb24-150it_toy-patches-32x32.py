# The tiny CITE with a tiny random ViT saved as HIPT's vit256_small_dino.pth
# (a DINO training checkpoint: teacher and student, prefixed, with DINO's
# head), loaded as the cite_hipt-vit-s16 config loads it.
#   python tools/misc/generate_tiny_vits.py
_base_ = ['./cite-tiny-timm-vit-minilm_1xb24-150it_toy-patches-32x32.py']
model = dict(
    backbone=dict(
        pretrained='checkpoints/tiny_vits/vit32_tiny_dino.pth',
        pretrained_format='dino'))
