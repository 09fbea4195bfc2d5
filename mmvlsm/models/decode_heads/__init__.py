# Copyright (c) OpenMMLab. All rights reserved.
from .clipseg_decoder import (build_clipseg_decoder,
                              reset_clipseg_decoder_io_layers)

__all__ = ['build_clipseg_decoder', 'reset_clipseg_decoder_io_layers']
