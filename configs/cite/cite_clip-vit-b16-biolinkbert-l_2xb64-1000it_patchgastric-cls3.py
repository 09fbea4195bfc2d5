# CITE on PatchGastric 3-class, all training slides (CITE's main config,
# "clip-vitb16_biolinkbert-l_cb_bs128_i1000", lr 0.03): 2 GPUs x 64
# patches, class-balanced, 1000 iterations of SGD.
#   bash tools/dist_train.sh \
#       configs/cite/cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py 2
_base_ = [
    '../_base_/models/cite_clip-vit-b16_biolinkbert-l.py',
    '../_base_/datasets/patchgastric_cls3.py',
    '../_base_/schedules/cite_sgd_i1000.py',
    '../_base_/default_runtime_cls.py',
]
model = dict(head=dict(texts={{_base_.classes}}))
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
