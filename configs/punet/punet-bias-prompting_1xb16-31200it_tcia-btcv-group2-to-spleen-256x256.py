# PUNet phase 2, "bias_prompting": prompting, plus every bias and norm
# parameter of the body (BitFit).
_base_ = [
    './punet-prompting_1xb16-31200it_tcia-btcv-group2-to-spleen-256x256.py'
]
model = dict(
    adapt_cfg=dict(trainable=[
        r're:(backbone|decoder|head)\..*\.prompts\.1',
        r're:(backbone|decoder)\..*\.prompt_embeddings\.1',
        r're:(backbone|decoder)\..*\.prompt_weights',
        r're:(backbone|decoder)\..*(\.bias|norm\w*\.weight)'
    ]))
