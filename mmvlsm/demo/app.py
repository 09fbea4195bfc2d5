# Copyright (c) OpenMMLab. All rights reserved.
"""The demo page (Gradio): an upload, the model's prompt controls, and
what :class:`~mmvlsm.demo.core.DemoModel` returns.

The page's elements carry ids (``upload``, ``prompt``, ``run``,
``status``, ``overlay``, ``mask-file``, ...) by which a browser test finds
them.
"""
import logging
import os
import os.path as osp
import shutil
import time
from typing import List, Optional, Sequence, Tuple

import gradio as gr

from mmvlsm.datasets.volumes import AXES
from .core import (CONFIG_WINDOW, IMAGE_TYPES, VOLUME_TYPES, WINDOWS,
                   DemoInputError, DemoModel, VolumeView, draw_overlay,
                   enlarge, heat_map, legend_html)

logger = logging.getLogger('mmvlsm.demo')
IMAGE_HEIGHT = 320  # px


def copy_examples(examples: Sequence[Tuple[str, str]],
                  folder: str) -> List[Tuple[str, str]]:
    """Copies of the example files in ``folder``, the only place from
    which the page serves them (one sub-folder each: names may repeat)."""
    copies = []
    for k, (path, prompt) in enumerate(examples):
        target = osp.join(folder, str(k))
        os.makedirs(target, exist_ok=True)
        copies.append((shutil.copy(path, target), prompt))
    return copies


def _failed(message: str) -> str:
    return f'<span style="color:#c0392b">**{message}**</span>'


def build_app(
    model: DemoModel, examples: Sequence[Tuple[str, str]] = ()) -> gr.Blocks:
    """The demo page for ``model``.

    Args:
        model (DemoModel): The model to serve.
        examples (Sequence[tuple[str, str]]): Files (in a folder the page
            may serve) and their prompts, shown as clickable examples.

    Returns:
        gr.Blocks: The page, to ``queue()`` and ``launch()``.
    """
    name = osp.splitext(osp.basename(model.config))[0]
    types = list((IMAGE_TYPES if model.takes_images else ()) +
                 (VOLUME_TYPES if model.takes_volumes else ()))
    with gr.Blocks(title=f'mmvlsm: {name}', analytics_enabled=False) as app:
        gr.Markdown(f'## mmvlsm demo: {name}')
        with gr.Accordion('Model', open=False):
            gr.Markdown(model.card(), elem_id='model-card')
        with gr.Row():
            with gr.Column(scale=1):
                upload = gr.File(
                    label='Image or volume ({})'.format(' '.join(types)),
                    file_types=types,
                    elem_id='upload')
                prompt = gr.Textbox(
                    label='Prompts (one per line, or separated by ";")',
                    lines=2,
                    visible=model.kind == 'text',
                    elem_id='prompt')
                classes = gr.Dropdown(
                    choices=model.classes,
                    value=model.classes[:1] or None,
                    multiselect=True,
                    label='Classes',
                    visible=model.kind == 'class',
                    elem_id='classes')
                threshold = gr.Slider(
                    0.01,
                    0.99,
                    value=model.threshold or 0.5,
                    step=0.01,
                    label='Threshold (probability)',
                    visible=model.threshold is not None,
                    elem_id='threshold')
                show_heat = gr.Checkbox(
                    label='Show the probability map',
                    visible=model.kind != 'classifier',
                    elem_id='show-heat')
                with gr.Accordion(
                        'Volumes', open=False, visible=model.takes_volumes):
                    axis = gr.Dropdown(
                        list(AXES) if model.dims == 2 else ['axial'],
                        value='axial',
                        label='Slicing axis',
                        elem_id='axis')
                    window = gr.Dropdown(
                        list(WINDOWS),
                        value=CONFIG_WINDOW,
                        label='CT window',
                        elem_id='window')
                run = gr.Button(
                    'Classify' if model.kind == 'classifier' else 'Segment',
                    variant='primary',
                    elem_id='run')
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id='status')
                with gr.Row():
                    # A fixed height scales small images up to be seen.
                    shown = gr.Image(
                        label='Image',
                        interactive=False,
                        height=IMAGE_HEIGHT,
                        elem_id='image')
                    overlay = gr.Image(
                        label='Overlay',
                        interactive=False,
                        height=IMAGE_HEIGHT,
                        visible=model.kind != 'classifier',
                        elem_id='overlay')
                    scores = gr.Label(
                        label='Class probabilities',
                        visible=model.kind == 'classifier',
                        elem_id='scores')
                legend = gr.HTML(elem_id='legend')
                heat = gr.Image(
                    label='Probability',
                    interactive=False,
                    height=IMAGE_HEIGHT,
                    visible=False,
                    elem_id='heat')
                slice_index = gr.Slider(
                    0,
                    1,
                    step=1,
                    label='Slice',
                    visible=False,
                    elem_id='slice')
                mask_file = gr.File(
                    label='Mask',
                    interactive=False,
                    visible=model.kind != 'classifier',
                    elem_id='mask-file')
        view = gr.State()

        def segment(path, text, chosen, thr, heat_on, axis_, window_):
            start = time.perf_counter()
            source = osp.basename(path) if path else ''
            try:
                result, out = model.segment(path, text, chosen, thr, axis_,
                                            window_)
            except DemoInputError as err:
                return (_failed(str(err)), None, None, '',
                        gr.update(value=None, visible=False), None,
                        gr.update(visible=False), None)
            except Exception as err:  # a bug: logged here, not shown
                logger.exception('segmenting %s failed', source)
                return (_failed(f'Segmenting {source} failed '
                                f'({type(err).__name__}); see the server '
                                'log.'), None, None, '',
                        gr.update(value=None, visible=False), None,
                        gr.update(visible=False), None)
            if isinstance(result, VolumeView):
                index = result.busiest_slice()
                image, drawn, heat_img = result.show(index)
                names = result.result.names
                slider = gr.update(
                    visible=True,
                    minimum=0,
                    maximum=len(result.slices) - 1,
                    value=index)
                state = result
            else:
                image = result.image
                drawn = draw_overlay(image, result.labels)
                heat_img = heat_map(image, result.probabilities.max(0))
                names, slider, state = result.names, gr.update(
                    visible=False), None
            seconds = time.perf_counter() - start
            logger.info('%s, %d prompts: %.3f s', source, len(names), seconds)
            image, drawn, heat_img = (
                enlarge(x, IMAGE_HEIGHT) for x in (image, drawn, heat_img))
            return (f'{source}: {len(names)} prompt(s) in {seconds:.2f} s',
                    image, drawn, legend_html(names),
                    gr.update(value=heat_img,
                              visible=bool(heat_on)), out, slider, state)

        def show_slice(state: Optional[VolumeView], index, heat_on):
            if state is None:
                return gr.update(), gr.update(), gr.update()
            image, drawn, heat_img = (
                enlarge(x, IMAGE_HEIGHT) for x in state.show(index))
            return image, drawn, gr.update(
                value=heat_img, visible=bool(heat_on))

        def classify(path):
            start = time.perf_counter()
            try:
                image, probabilities = model.classify(path)
            except DemoInputError as err:
                return _failed(str(err)), None, None
            except Exception as err:  # a bug: logged here, not shown
                logger.exception('classifying %s failed', path)
                return _failed(f'Classifying failed ({type(err).__name__}); '
                               'see the server log.'), None, None
            seconds = time.perf_counter() - start
            logger.info('%s: %.3f s', osp.basename(path), seconds)
            return (f'{osp.basename(path)} in {seconds:.2f} s',
                    enlarge(image, IMAGE_HEIGHT), probabilities)

        if model.kind == 'classifier':
            run.click(classify, [upload], [status, shown, scores])
        else:
            run.click(
                segment,
                [upload, prompt, classes, threshold, show_heat, axis, window],
                [
                    status, shown, overlay, legend, heat, mask_file,
                    slice_index, view
                ])
            slice_index.release(show_slice, [view, slice_index, show_heat],
                                [shown, overlay, heat])
            show_heat.change(lambda on: gr.update(visible=bool(on)),
                             [show_heat], [heat])
        if examples:
            with_prompt = model.kind == 'text'
            gr.Examples(
                [[path, text] if with_prompt else [path]
                 for path, text in examples],
                [upload, prompt] if with_prompt else [upload],
                label='Examples (click one, then ' +
                ('Classify)' if model.kind == 'classifier' else 'Segment)'),
                elem_id='examples')
    return app
