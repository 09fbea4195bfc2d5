# Copyright (c) OpenMMLab. All rights reserved.
"""The web demo of ``tools/demo.py``: :mod:`.core` computes what the page
shows; :mod:`.app` (which needs Gradio, ``requirements/demo.txt``) lays
out the page."""
from .core import (DemoInputError, DemoModel, ImageResult, VolumeView,
                   check_upload, class_scores, colours, dataset_examples,
                   describe_error, draw_overlay, enlarge, heat_map,
                   legend_html, mask_image, parse_prompts, to_rgb)

__all__ = [
    'DemoInputError', 'DemoModel', 'ImageResult', 'VolumeView', 'check_upload',
    'class_scores', 'colours', 'dataset_examples', 'describe_error',
    'draw_overlay', 'enlarge', 'heat_map', 'legend_html', 'mask_image',
    'parse_prompts', 'to_rgb'
]
