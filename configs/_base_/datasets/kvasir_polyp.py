_base_ = './medvlsm_352x352.py'
data_root = 'data/kvasir_polyp'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
