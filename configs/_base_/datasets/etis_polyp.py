# ETIS-Larib is an out-of-distribution test set in medvlsm: models train on
# the endoscopy pool and are tested on all of ETIS-Larib's images (its
# train.json and test.json; it has no validation split).
_base_ = './endoscopy_pooled.py'
dataset_type = 'MedVLSMDataset'
prompt_type = 'random'
data_root = 'data/etis_polyp'
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='anns/train.json',
                prompt_type=prompt_type,
                test_mode=True,
                pipeline={{_base_.test_pipeline}}),
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='anns/test.json',
                prompt_type=prompt_type,
                test_mode=True,
                pipeline={{_base_.test_pipeline}}),
        ]))
