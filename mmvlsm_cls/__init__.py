# Copyright (c) OpenMMLab. All rights reserved.
"""The ``mmvlsm_cls`` registry scope of mmvlsm's classification configs.

mmengine imports ``<scope>.registry`` whenever it builds a module in a
scope; this package makes that import succeed for ``default_scope =
'mmvlsm_cls'``. Everything lives in :mod:`mmvlsm`.
"""
