# Copyright (c) OpenMMLab. All rights reserved.
from .inference import inference_model, init_model, load_image, prepare_image

__all__ = ['init_model', 'inference_model', 'load_image', 'prepare_image']
