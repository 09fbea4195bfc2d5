# CRIS with CLIP RN101: CRIS R50 (cris_r50.py, medvlsm's defaults) with
# CLIP's ResNet-101, whose attention pool and text projection give 512
# channels instead of 1024.
_base_ = './cris_r50.py'
model = dict(
    # OpenAI's CLIP RN101: the 'RN101' URL in
    # mmvlsm/models/utils/openai_clip_loading.py (OPENAI_CLIP_URLS).
    clip_pretrained='pretrain/RN101.pt',
    backbone=dict(layers=(3, 4, 23, 3), output_dim=512),
    text_encoder=dict(output_dim=512),
    neck=dict(in_channels=(512, 1024, 512)),
    decode_head=dict(text_channels=512))
