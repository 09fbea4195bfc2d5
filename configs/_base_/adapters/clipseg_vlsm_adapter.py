# VLSM-Adapter's adapters for CLIPSeg rd64-refined (ViT-B/16, 768 wide;
# text transformer and conditional embedding, 512 wide; the decoder reads
# vision layers 3, 6 and 9), as entries of a segmentor's
# `adapt_cfg['adapters']` (see mmvlsm/models/adapters). A config that lists
# this file among its bases picks them by name:
#   model = dict(adapt_cfg=dict(adapters=[{{_base_.dense_v}},
#                                         {{_base_.dense_l}}]))
# Upstream's adapter: ReLU after both projections, PyTorch's default init,
# so it is not the identity at the start. Better, not upstream's: add
# `zero_init=True` (adapters start as the identity; for `shallow_l` with
# `add='delta'` too, so that the adapted model starts as its host) and/or
# `learnable_scale=True`; put dense adapters in layer 9 as well (`[0-9]`).

# Dense adapters: one in every attention and MLP sub-layer, on its output
# before the residual sum, in the layers before the last one the decoder
# reads (upstream: layer index < max(extract_layers) = 9). 18 adapters each.
dense_v = dict(
    type='ResidualAdapters',
    modules=r'vision_model\.encoder\.layers\.[0-8]\.(self_attn|mlp)',
    hidden_dims=64)
dense_l = dict(
    type='ResidualAdapters',
    modules=r'text_model\.encoder\.layers\.[0-8]\.(self_attn|mlp)',
    hidden_dims=64)
# Conditional adapter on the projected text embedding the decoder is
# conditioned on (the 256 is hard-coded upstream).
cond = dict(type='EmbeddingAdapter', embed_dims=512, hidden_dims=256)
# Shallow adapters: one on each vision activation the decoder receives ...
shallow_v = dict(
    type='ActivationAdapters',
    embed_dims=768,
    num_activations=3,
    hidden_dims=512)
# ... and one on the end-token feature of text layers 3, 6 and 9, added to
# the conditional embedding.
shallow_l = dict(
    type='TextLayerAdapters',
    layers=r'text_model\.encoder\.layers\.(3|6|9)',
    embed_dims=512,
    hidden_dims=512)
# LoRA on the query and value projections of both encoders (not in
# VLSM-Adapter; a baseline), in layers 0-9: vision layers 10 and 11 never
# reach the decoder, and trainable parameters without gradients break
# DistributedDataParallel (the text encoder's are limited alike, to keep the
# two towers symmetric).
lora = dict(
    type='LoRA',
    target_modules=r'(vision|text)_model\.encoder\.layers\.[0-9]\.self_attn'
    r'\.(q|v)_proj',
    r=8,
    lora_alpha=16)
