# Baseline: zero-shot CLIP ViT-B/16 (CITE's
# "zeroshot_clip-vitb16_bs128_i1000"): the class names, as they are, encoded
# by CLIP's own text tower; logits = 100 x cosine. Nothing is trained, so
# it is evaluated as built, without a checkpoint:
#   python tools/test.py configs/cite/zero-shot_clip-vit-b16_patchgastric-cls3.py
_base_ = ['./cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
zero_shot = True
model = dict(
    backbone=dict(prompt_length=0),
    neck=None,
    head=dict(
        text_encoder=dict(
            _delete_=True,
            type='openai_clip',
            checkpoint='checkpoints/ViT-B-16.pt')))
