# The tiny CITE with a tiny random ViT saved as DINOv2's hub checkpoints
# (LayerScale, mask token, trained for a larger grid: 6 x 6 patches,
# resized to 4 x 4 on load), loaded as the cite_dinov2-vit-* configs load
# theirs, with DINOv2's class + mean patch token feature (64-d).
#   python tools/misc/generate_tiny_vits.py
_base_ = ['./cite-tiny-timm-vit-minilm_1xb24-150it_toy-patches-32x32.py']
model = dict(
    backbone=dict(
        layer_scale_init_value=1e-5,
        feature='cls_mean',
        pretrained='checkpoints/tiny_vits/dinov2_vitt8_pretrain.pth',
        pretrained_format='dinov2'))
