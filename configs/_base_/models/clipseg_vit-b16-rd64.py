# The architecture of CIDAS/clipseg-rd64-refined (CLIP ViT-B/16 and text
# transformer, decoder with reduce dim 64 fed by ViT blocks 4, 7 and 10,
# refined transposed-convolution head), randomly initialised. The CLIP BPE
# tokenizer is built offline from the vocabulary mmseg ships.
model = dict(
    type='CLIPSeg',
    config=dict(
        text_config=dict(
            hidden_size=512,
            intermediate_size=2048,
            num_hidden_layers=12,
            num_attention_heads=8,
            max_position_embeddings=77),
        vision_config=dict(
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            image_size=224,
            patch_size=16),
        projection_dim=512,
        extract_layers=[3, 6, 9],
        reduce_dim=64,
        decoder_num_attention_heads=4,
        decoder_intermediate_size=2048,
        conditional_layer=0,
        use_complex_transposed_convolution=True),
    tokenizer=dict(type='openai_bpe'),
    data_preprocessor=dict(
        type='VLSMDataPreProcessor',
        # ImageNet statistics, as medvlsm normalised CLIPSeg inputs.
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    losses=[
        dict(type='SigmoidBCELoss', loss_weight=1.0),
        dict(type='SoftDiceLoss', loss_weight=1.0),
    ],
    test_cfg=dict(threshold=0.5))
