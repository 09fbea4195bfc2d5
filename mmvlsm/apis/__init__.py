# Copyright (c) OpenMMLab. All rights reserved.
from .inference import (as_volume, class_names, inference_classifier,
                        inference_model, init_model, is_volume_input,
                        load_image, prepare_image, prompted_by_class,
                        resolve_class)
from .volume_inference import (VolumeSegmentation, combine_prompts,
                               foreground_probability, segment_volume)

__all__ = [
    'init_model', 'inference_model', 'inference_classifier', 'load_image',
    'prepare_image', 'as_volume', 'class_names', 'is_volume_input',
    'prompted_by_class', 'resolve_class', 'VolumeSegmentation',
    'combine_prompts', 'foreground_probability', 'segment_volume'
]
