# BiomedCLIPSeg: BiomedCLIP's encoders (open_clip; timm ViT-B/16 at 224 px,
# PubMedBERT with a 256-token context projected to 512-d) feeding CLIPSeg's
# rd64-refined decoder, which starts at random. The hub name resolves
# through the HF cache; offline, download it elsewhere (`hf download
# microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224` and `hf download
# microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract`, the text tower its
# open_clip_config.json names) and copy the cache, or point `pretrained` at
# a directory ('local-dir:DIR').
biomedclip = 'microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224'
model = dict(
    type='BiomedCLIPSeg',
    pretrained=f'hf-hub:{biomedclip}',
    # Blocks 5, 8 and 11 counting from 1, as medvlsm fed its decoder.
    extract_layers=[4, 7, 10],
    decoder=dict(
        reduce_dim=64,
        decoder_num_attention_heads=4,
        decoder_intermediate_size=2048,
        conditional_layer=0,
        use_complex_transposed_convolution=True),
    context_length=256,
    # Everything trains end-to-end. Upstream ran the image encoder under
    # inference_mode and froze the text encoder, so only the decoder
    # learned; set both to True to reproduce that.
    freeze_vision=False,
    freeze_text=False,
    data_preprocessor=dict(
        type='VLSMDataPreProcessor',
        # OpenAI CLIP's statistics, which BiomedCLIP was trained with.
        mean=[122.7709383, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True),
    losses=[
        dict(type='SigmoidBCELoss', loss_weight=1.0),
        dict(type='SoftDiceLoss', loss_weight=1.0),
    ],
    test_cfg=dict(threshold=0.5))
