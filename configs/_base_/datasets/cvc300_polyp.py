# CVC-300 is an out-of-distribution test set in medvlsm: models train on
# the endoscopy pool and are tested on all of CVC-300's images (its
# train.json and test.json; it has no validation split).
_base_ = './endoscopy_pooled.py'
data_root = 'data/cvc300_polyp'


def all_images(pipeline):
    """Both annotated splits of the dataset, for testing."""
    return dict(
        type='ConcatDataset',
        datasets=[
            dict(
                type='MedVLSMDataset',
                data_root=data_root,
                ann_file=f'anns/{split}.json',
                prompt_type='random',
                test_mode=True,
                pipeline=pipeline) for split in ('train', 'test')
        ])


test_dataloader = dict(
    dataset=dict(_delete_=True, **all_images({{_base_.test_pipeline}})))
test_dataset_224x224 = all_images({{_base_.test_pipeline_224x224}})
test_dataset_416x416 = all_images({{_base_.test_pipeline_416x416}})
