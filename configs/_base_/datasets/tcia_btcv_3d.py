# TCIA/BTCV multi-organ CT as volumes for 3D PUNet: `python
# tools/dataset_converters/ct_multiorgan.py --dataset tcia_btcv --data-root
# RAW --format nifti` writes data/tcia_btcv_3d, the voxels of the 2D slices
# (tcia_btcv_2d.py: 1.25 x 1.25 x 2.5 mm, 280 x 280 in-plane, the same
# classes and subject splits) as int16 HU volumes. Arrays are (H, W, D),
# depth last; LoadVolumeFromFile windows them as the PNGs are.
# Training draws one active class per volume and crops the teacher's field
# of view from it; evaluation scores every whole volume once per class
# (batch 1: volumes differ in depth), reported per class.
_base_ = ['./tcia_btcv_2d.py']
# The teacher's field of view (H, W, D), upstream's `3d_flat` (students
# 112 x 112 x 4 and 80 x 80 x 4).
teacher_size = (128, 128, 4)
dataset_type = 'MultiClassVolumeDataset'
data_root = 'data/tcia_btcv_3d'
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'spacing',
             'img_name', 'mask_name', 'dataset_name', 'subject',
             'active_class')


def crop_pipeline(crop_size):
    """The training pipeline with teacher crops of ``crop_size``.

    Values inherited from a base config are fixed there, so a config with
    another field of view sets its dataset's pipeline to one of the
    variants below.
    """
    return [
        dict(type='LoadVolumeFromFile', window={{_base_.volume_window}}),
        dict(type='LoadVolumeAnnotations'),
        dict(type='RandomActiveClass'),
        dict(type='BinarizeActiveClass'),
        dict(type='RandomVolumeCrop', crop_size=crop_size),
        dict(type='PackVolumeInputs', meta_keys=meta_keys),
    ]


train_pipeline = crop_pipeline(teacher_size)
# Upstream's `3d_aniso` and `3d_large` fields of view, and the toy one.
train_pipeline_64x64x8 = crop_pipeline((64, 64, 8))
train_pipeline_128x128x8 = crop_pipeline((128, 128, 8))
train_pipeline_32x32x8 = crop_pipeline((32, 32, 8))
test_pipeline = [
    dict(type='LoadVolumeFromFile', window={{_base_.volume_window}}),
    dict(type='LoadVolumeAnnotations'),
    dict(type='BinarizeActiveClass'),
    dict(type='PackVolumeInputs', meta_keys=meta_keys),
]
train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=test_pipeline))
# Per volume: Dice, IoU, and HD95 and NSD (2 mm) in mm from the voxel
# spacing.
val_evaluator = dict(
    type='DiceIoUMetric', surface_metrics=True, nsd_tolerance_mm=2.0)
test_evaluator = val_evaluator
