# CT-ORG as 2D slices for PUNet: `python
# tools/dataset_converters/ct_multiorgan.py --dataset ctorg --data-root RAW
# --out-dir data/ctorg` (classes 0 background, 1 liver, 2 bladder, 3 lungs,
# 4 kidneys, 5 bone; volumes without liver dropped), otherwise as
# TCIA/BTCV.
_base_ = ['./tcia_btcv_2d.py']
class_names = ['background', 'liver', 'bladder', 'lungs', 'kidneys', 'bone']
additive_alpha = [0., 0.0617, 0.7414, 0.1677, 0.0035, 0.2030]
data_root = 'data/ctorg'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
