# CITE with 4 training slides per class (the 4 with the most patches,
# train_4_0.2.txt).
_base_ = ['./cite_clip-vit-b16-biolinkbert-l_2xb64-1000it_patchgastric-cls3.py']
train_dataloader = dict(
    dataset=dict(ann_file='gastric_cls3_ann/train_4_0.2.txt'))
