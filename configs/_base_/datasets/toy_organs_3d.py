# The toy organs as volumes (python tools/misc/generate_toy_organs.py
# --volumes --out-dir data/toy_organs_3d: 64 x 64 x 16 voxels of 1.25 x
# 1.25 x 2.5 mm), for tiny 3D configs, smoke tests and CI: 32 x 32 x 8
# teacher crops and CPU-sized loaders. Classes 0 background, 1 liver, 2
# spleen, 3 left kidney, 4 right kidney; a model config sets the
# datasets' active_classes (its base classes).
_base_ = ['./tcia_btcv_3d.py']
class_names = ['background', 'liver', 'spleen', 'left kidney', 'right kidney']
teacher_size = (32, 32, 8)
data_root = 'data/toy_organs_3d'
train_pipeline = {{_base_.train_pipeline_32x32x8}}
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(data_root=data_root))
test_dataloader = dict(
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(data_root=data_root))
