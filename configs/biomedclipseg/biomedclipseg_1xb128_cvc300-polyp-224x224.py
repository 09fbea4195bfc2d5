# BiomedCLIPSeg fine-tuned on the endoscopy pool with the medvlsm recipe and
# tested on all of CVC-300's images.
_base_ = [
    '../_base_/models/biomedclipseg_vit-b16.py',
    '../_base_/datasets/cvc300_polyp.py',
    '../_base_/schedules/medvlsm_clipseg.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(dataset={{_base_.train_dataset_224x224}})
val_dataloader = dict(dataset={{_base_.val_dataset_224x224}})
test_dataloader = dict(dataset={{_base_.test_dataset_224x224}})
