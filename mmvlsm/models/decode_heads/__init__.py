# Copyright (c) OpenMMLab. All rights reserved.
from .clipseg_decoder import (build_clipseg_decoder,
                              reset_clipseg_decoder_io_layers)
from .cris_head import (CRISDecoderLayer, CRISHead, CRISProjector,
                        CRISTransformerDecoder)
from .fixed_output_head import FixedOutputHead
from .punet_decoder import PUNetDecoder
from .similarity_aggregation_head import SimilarityAggregationHead

__all__ = [
    'build_clipseg_decoder', 'reset_clipseg_decoder_io_layers',
    'CRISDecoderLayer', 'CRISHead', 'CRISProjector', 'CRISTransformerDecoder',
    'FixedOutputHead', 'PUNetDecoder', 'SimilarityAggregationHead'
]
