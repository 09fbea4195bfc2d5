# Copyright (c) OpenMMLab. All rights reserved.
from .hooks import VLSMVisualizationHook

__all__ = ['VLSMVisualizationHook']
