# CITE's recipe on PatchGastric 3-class, all training slides (CITE's main
# config, "*_biolinkbert-l_cb_bs128_i1000", lr 0.03): 2 GPUs x 64 patches,
# class-balanced, 1000 iterations of SGD, the class names encoded by
# BioLinkBERT-large. The configs beside this folder add the image encoder.
_base_ = [
    '../../_base_/models/cite_biolinkbert-l.py',
    '../../_base_/datasets/patchgastric_cls3.py',
    '../../_base_/schedules/cite_sgd_i1000.py',
    '../../_base_/default_runtime_cls.py',
]
model = dict(head=dict(texts={{_base_.classes}}))
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
