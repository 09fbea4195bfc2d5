# Copyright (c) OpenMMLab. All rights reserved.
"""mmengine's entry to the classification registries, see
:mod:`mmvlsm.registry.classification`."""
from mmvlsm.registry.classification import *  # noqa: F401,F403
