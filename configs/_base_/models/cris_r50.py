# CRIS (CLIP-driven referring image segmentation) with CLIP RN50: CLIP's
# ResNet-50 with a dense attention pool, CLIP's text transformer, CRIS's
# multi-modal FPN, vision-language decoder and text-to-pixel projector.
# The defaults are medvlsm's: 77-token prompts, decoder dropout 0.2, soft
# Dice + BCE on logits resized to the input, threshold 0.35. Official CRIS
# uses `context_length=17`, `decode_head.dropout=0.1` and its BCE on the
# 1/4-resolution logits (see `losses` and `train_cfg` below).
model = dict(
    type='CRIS',
    # OpenAI's CLIP RN50 (a TorchScript archive), which initialises the
    # backbone and the text encoder. Download it from the 'RN50' URL in
    # mmvlsm/models/utils/openai_clip_loading.py (OPENAI_CLIP_URLS) into
    # pretrain/. Configs that load a whole CRIS checkpoint set it to None.
    clip_pretrained='pretrain/RN50.pt',
    backbone=dict(
        type='CRISResNet',
        layers=(3, 4, 6, 3),
        width=64,
        output_dim=1024,
        heads=32,
        pretrain_img_size=224),
    text_encoder=dict(
        type='CLIPTextTransformer',
        context_length=77,
        vocab_size=49408,
        width=512,
        heads=8,
        layers=12,
        output_dim=1024),
    neck=dict(
        type='CRISFPN',
        in_channels=(512, 1024, 1024),
        out_channels=(256, 512, 1024)),
    decode_head=dict(
        type='CRISHead',
        in_channels=512,
        text_channels=1024,
        num_layers=3,
        num_heads=8,
        ffn_channels=2048,
        # medvlsm's; official CRIS: 0.1.
        dropout=0.2),
    tokenizer=dict(type='openai_bpe'),
    # medvlsm's word length; official CRIS: 17.
    context_length=77,
    # Everything trains end-to-end, as in both medvlsm and official CRIS.
    freeze_vision=False,
    freeze_text=False,
    data_preprocessor=dict(
        type='VLSMDataPreProcessor',
        # OpenAI CLIP's statistics.
        mean=[122.7709383, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True),
    # Soft Dice + BCE on the logits upsampled to the input size (medvlsm's
    # Dice + CE, whose CE term MONAI 1.1 computed as 0; soft Dice alone is
    # `losses=[dict(type='SoftDiceLoss')]`). Official CRIS: BCE on the
    # 1/4-resolution logits, `losses=[dict(type='SigmoidBCELoss')]` with
    # `train_cfg=dict(loss_size='logits')`.
    losses=[dict(type='SoftDiceLoss'),
            dict(type='SigmoidBCELoss')],
    train_cfg=dict(loss_size='input'),
    # CRIS's threshold, which medvlsm kept.
    test_cfg=dict(threshold=0.35))
