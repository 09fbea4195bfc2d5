# medvlsm's "endoscopy pooled" setting: train and validate on Kvasir-SEG,
# CVC-ClinicDB and BKAI-IGH together; the evaluator reports every metric per
# dataset as well as over the pool. Configs for the out-of-distribution polyp
# sets (CVC-300, CVC-ColonDB, ETIS) replace `test_dataloader`.
_base_ = './medvlsm.py'
dataset_type = 'MedVLSMDataset'
prompt_type = 'random'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        # Each member names itself in `dataset_name`; the rest must agree.
        ignore_keys=['dataset_name'],
        datasets=[
            dict(
                type=dataset_type,
                data_root='data/kvasir_polyp',
                ann_file='anns/train.json',
                prompt_type=prompt_type,
                pipeline={{_base_.train_pipeline}}),
            dict(
                type=dataset_type,
                data_root='data/clinicdb_polyp',
                ann_file='anns/train.json',
                prompt_type=prompt_type,
                pipeline={{_base_.train_pipeline}}),
            dict(
                type=dataset_type,
                data_root='data/bkai_polyp',
                ann_file='anns/train.json',
                prompt_type=prompt_type,
                pipeline={{_base_.train_pipeline}}),
        ]))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        # Each member names itself in `dataset_name`; the rest must agree.
        ignore_keys=['dataset_name'],
        datasets=[
            dict(
                type=dataset_type,
                data_root='data/kvasir_polyp',
                ann_file='anns/val.json',
                prompt_type=prompt_type,
                test_mode=True,
                pipeline={{_base_.test_pipeline}}),
            dict(
                type=dataset_type,
                data_root='data/clinicdb_polyp',
                ann_file='anns/val.json',
                prompt_type=prompt_type,
                test_mode=True,
                pipeline={{_base_.test_pipeline}}),
            dict(
                type=dataset_type,
                data_root='data/bkai_polyp',
                ann_file='anns/val.json',
                prompt_type=prompt_type,
                test_mode=True,
                pipeline={{_base_.test_pipeline}}),
        ]))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        # Each member names itself in `dataset_name`; the rest must agree.
        ignore_keys=['dataset_name'],
        datasets=[
            dict(
                type=dataset_type,
                data_root='data/kvasir_polyp',
                ann_file='anns/test.json',
                prompt_type=prompt_type,
                test_mode=True,
                pipeline={{_base_.test_pipeline}}),
            dict(
                type=dataset_type,
                data_root='data/clinicdb_polyp',
                ann_file='anns/test.json',
                prompt_type=prompt_type,
                test_mode=True,
                pipeline={{_base_.test_pipeline}}),
            dict(
                type=dataset_type,
                data_root='data/bkai_polyp',
                ann_file='anns/test.json',
                prompt_type=prompt_type,
                test_mode=True,
                pipeline={{_base_.test_pipeline}}),
        ]))
