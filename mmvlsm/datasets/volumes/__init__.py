# Copyright (c) OpenMMLab. All rights reserved.
"""Medical volumes: reading and writing (``io``), slicing along an
anatomical axis (``orientation``) and intensity windows (``intensity``)."""
from .intensity import (CT_WINDOWS, DEFAULT_PERCENTILES, IntensityWindow,
                        ResolvedWindow, parse_window)
from .io import (DICOM_EXTENSIONS, OUTPUT_FORMATS, VOLUME_EXTENSIONS,
                 DicomSeries, array_view, Volume, VolumeError,
                 check_same_geometry, choose_frame_component, dicom_files,
                 geometry_differences, image_like, is_dicom_file,
                 is_volume_source, list_dicom_series, output_extension,
                 read_volume, strip_volume_extension, volume_extension,
                 write_volume)
from .orientation import AXES, SliceLayout, slice_layout

__all__ = [
    'CT_WINDOWS', 'DEFAULT_PERCENTILES', 'IntensityWindow', 'ResolvedWindow',
    'parse_window', 'DICOM_EXTENSIONS', 'OUTPUT_FORMATS', 'VOLUME_EXTENSIONS',
    'DicomSeries', 'array_view', 'Volume', 'VolumeError',
    'check_same_geometry', 'choose_frame_component', 'dicom_files',
    'geometry_differences', 'image_like', 'is_dicom_file', 'is_volume_source',
    'list_dicom_series', 'output_extension', 'read_volume',
    'strip_volume_extension', 'volume_extension', 'write_volume', 'AXES',
    'SliceLayout', 'slice_layout'
]
