# CRIS (R50) fine-tuned on the endoscopy pool with the medvlsm recipe and
# tested on all of CVC-300's images.
_base_ = [
    './_base_/cris_r50_medvlsm.py',
    '../_base_/datasets/cvc300_polyp.py',
]
# drop_last: the FPN's BatchNorm1d on the sentence feature needs two or
# more samples per training batch (official CRIS drops the last batch too).
train_dataloader = dict(
    batch_size=32, drop_last=True, dataset={{_base_.train_dataset_416x416}})
val_dataloader = dict(dataset={{_base_.val_dataset_416x416}})
test_dataloader = dict(dataset={{_base_.test_dataset_416x416}})
