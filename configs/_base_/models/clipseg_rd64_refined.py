# CLIPSeg (ViT-B/16, reduce dim 64, refined decoder) with transformers'
# `CIDAS/clipseg-rd64-refined` weights and tokenizer. The hub name resolves
# through the HF cache; offline, download it elsewhere
# (`hf download CIDAS/clipseg-rd64-refined`) and copy the cache, or point
# `pretrained` at a local directory.
_base_ = './clipseg_vit-b16-rd64.py'
model = dict(
    pretrained='CIDAS/clipseg-rd64-refined',
    config=None,
    tokenizer=None,
    # Both encoders train end-to-end. Upstream's fine-tuning went through
    # transformers' forward, which runs them under no_grad, so only the
    # decoder learned; set both to True to reproduce that.
    freeze_vision=False,
    freeze_text=False)
