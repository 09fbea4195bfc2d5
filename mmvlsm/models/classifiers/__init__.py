# Copyright (c) OpenMMLab. All rights reserved.
from .cite_classifier import CITEClassifier, WidthMismatchError

__all__ = ['CITEClassifier', 'WidthMismatchError']
