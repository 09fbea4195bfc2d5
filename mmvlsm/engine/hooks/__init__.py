# Copyright (c) OpenMMLab. All rights reserved.
from .parameter_table_hook import ParameterTableHook
from .visualization_hook import VLSMVisualizationHook

__all__ = ['ParameterTableHook', 'VLSMVisualizationHook']
