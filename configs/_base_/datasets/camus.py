# medvlsm does not ship CAMUS's train.json: build it from the CAMUS training
# patients (image x structure records, as in val.json) before training.
_base_ = './medvlsm.py'
data_root = 'data/camus'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
