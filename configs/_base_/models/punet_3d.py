# PUNet in 3D, upstream's `3d_flat` field of view: 6 x 6 x 2 windows,
# students 112 x 112 x 4 and 80 x 80 x 4 of a 128 x 128 x 4 teacher crop;
# maps (B, C, H, W, D), depth last; depth kernels and strides from the
# patch depth (4: depth 3 kernels at the first level, one depth stride).
# Other fields of view set window, patch_depth and student_sizes (see the
# 3d-aniso and 3d-large configs). Whole volumes are segmented by sliding
# windows of the first student size (overlap 0.5, as upstream's
# validation).
_base_ = ['./punet_2d.py']
model = dict(
    data_preprocessor=dict(
        _delete_=True,
        type='VolumeDataPreProcessor',
        # The volumes' HU window [-1000, 1000] as 0..255, scaled to [-1, 1].
        mean=[127.5],
        std=[127.5]),
    backbone=dict(window=(6, 6, 2), patch_depth=4),
    decoder=dict(window=(6, 6, 2), patch_depth=4),
    student_sizes=((112, 112, 4), (80, 80, 4)))
