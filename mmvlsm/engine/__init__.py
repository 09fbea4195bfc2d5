# Copyright (c) OpenMMLab. All rights reserved.
from .hooks import VLSMVisualizationHook
from .schedulers import OneCycleLR

__all__ = ['OneCycleLR', 'VLSMVisualizationHook']
