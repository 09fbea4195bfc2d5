# Copyright (c) OpenMMLab. All rights reserved.
from .visualization_hook import VLSMVisualizationHook

__all__ = ['VLSMVisualizationHook']
