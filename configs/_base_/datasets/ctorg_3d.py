# CT-ORG as volumes for 3D PUNet: `python
# tools/dataset_converters/ct_multiorgan.py --dataset ctorg --data-root RAW
# --format nifti` (classes 0 background, 1 liver, 2 bladder, 3 lungs, 4
# kidneys, 5 bone; volumes without liver dropped), otherwise as
# tcia_btcv_3d.py.
_base_ = ['./tcia_btcv_3d.py']
class_names = ['background', 'liver', 'bladder', 'lungs', 'kidneys', 'bone']
additive_alpha = [0., 0.0617, 0.7414, 0.1677, 0.0035, 0.2030]
data_root = 'data/ctorg_3d'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
