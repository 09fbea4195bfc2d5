# BiomedCLIPSeg-D: BiomedCLIPSeg whose decoder starts from CLIPSeg
# rd64-refined's weights.
_base_ = ['./biomedclipseg_1xb128_isic-224x224.py']
model = dict(decoder=None, decoder_pretrained='CIDAS/clipseg-rd64-refined')
