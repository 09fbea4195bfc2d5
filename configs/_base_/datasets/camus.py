# CAMUS as tools/dataset_converters/medvlsm.py writes it: val.json names
# training patients 1-50 and test.json the testing patients, numbered 1-50
# too, so the frames live in images/{train,test}/ and masks/{train,test}/.
# The converter also builds train.json (missing upstream) from the other
# training patients.
_base_ = './medvlsm.py'
data_root = 'data/camus'
train_prefix = dict(img_path='images/train', seg_map_path='masks/train')
test_prefix = dict(img_path='images/test', seg_map_path='masks/test')
train_dataloader = dict(
    dataset=dict(data_root=data_root, data_prefix=train_prefix))
val_dataloader = dict(
    dataset=dict(data_root=data_root, data_prefix=train_prefix))
test_dataloader = dict(
    dataset=dict(data_root=data_root, data_prefix=test_prefix))
