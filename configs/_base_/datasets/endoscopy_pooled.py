# medvlsm's "endoscopy pooled" setting: train and validate on Kvasir-SEG,
# CVC-ClinicDB and BKAI-IGH together; the evaluator reports every metric per
# dataset as well as over the pool. Configs for the out-of-distribution polyp
# sets (CVC-300, CVC-ColonDB, ETIS) replace `test_dataloader`.
_base_ = './medvlsm.py'
pool_roots = ['data/kvasir_polyp', 'data/clinicdb_polyp', 'data/bkai_polyp']


def concat_splits(roots, splits, pipeline, test_mode):
    """A ConcatDataset of the given splits of medvlsm datasets."""
    return dict(
        type='ConcatDataset',
        # Each member names itself in `dataset_name`; the rest must agree.
        ignore_keys=['dataset_name'],
        datasets=[
            dict(
                type='MedVLSMDataset',
                data_root=root,
                ann_file=f'anns/{split}.json',
                prompt_type='random',
                test_mode=test_mode,
                pipeline=pipeline) for root in roots for split in splits
        ])


train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **concat_splits(pool_roots, ['train'], {{_base_.train_pipeline}},
                        False)))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **concat_splits(pool_roots, ['val'], {{_base_.test_pipeline}}, True)))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **concat_splits(pool_roots, ['test'], {{_base_.test_pipeline}}, True)))
# The same at BiomedCLIPSeg's 224x224 input: its configs set the
# dataloaders' `dataset` to these.
train_dataset_224x224 = concat_splits(pool_roots, ['train'],
                                      {{_base_.train_pipeline_224x224}}, False)
val_dataset_224x224 = concat_splits(pool_roots, ['val'],
                                    {{_base_.test_pipeline_224x224}}, True)
test_dataset_224x224 = concat_splits(pool_roots, ['test'],
                                     {{_base_.test_pipeline_224x224}}, True)
# The same at CRIS's 416x416 input.
train_dataset_416x416 = concat_splits(pool_roots, ['train'],
                                      {{_base_.train_pipeline_416x416}}, False)
val_dataset_416x416 = concat_splits(pool_roots, ['val'],
                                    {{_base_.test_pipeline_416x416}}, True)
test_dataset_416x416 = concat_splits(pool_roots, ['test'],
                                     {{_base_.test_pipeline_416x416}}, True)
