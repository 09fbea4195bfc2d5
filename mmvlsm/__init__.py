# Copyright (c) OpenMMLab. All rights reserved.
"""mmvlsm: vision-language segmentation models for medical images."""
from .utils import (allow_mmengine_checkpoint_globals,
                    install_checkpoint_loader, install_mmcv_ops_fallback)
from .version import __version__

# They must run before mmseg's models are imported or a checkpoint is read.
install_mmcv_ops_fallback()
allow_mmengine_checkpoint_globals()
install_checkpoint_loader()

__all__ = ['__version__']
