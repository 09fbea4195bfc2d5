# Dense adapters on the quickstart's tiny CLIPSeg, for smoke tests and CI:
# the trained quickstart model (configs/quickstart) is the frozen host, and
# adapters 16 wide after the attention and the MLP of its 3 vision and 2
# text layers, plus a conditional adapter (64-32-64) on the text embedding,
# train for 40 iterations at batch 16 on the toy shapes (25,472 trainable
# parameters).
#
# The host weights are the quickstart's final checkpoint, where
# `make quickstart` writes it (after `python tools/train.py` on the
# quickstart config, add --cfg-options model.adapt_cfg.host_checkpoint=
# work_dirs/clipseg-tiny_1xb16-650it_toy-shapes-128x128/iter_650.pth).
_base_ = ['../quickstart/clipseg-tiny_1xb16-650it_toy-shapes-128x128.py']

model = dict(
    adapt_cfg=dict(
        host_checkpoint='work_dirs/quickstart/iter_650.pth',
        adapters=[
            dict(
                type='ResidualAdapters',
                modules=r'vision_model\.encoder\.layers\.[0-2]\.'
                r'(self_attn|mlp)',
                hidden_dims=16),
            dict(
                type='ResidualAdapters',
                modules=r'text_model\.encoder\.layers\.[0-1]\.'
                r'(self_attn|mlp)',
                hidden_dims=16),
            dict(type='EmbeddingAdapter', embed_dims=64, hidden_dims=32),
        ]))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10)
]
train_cfg = dict(max_iters=40, val_interval=40)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=40))
