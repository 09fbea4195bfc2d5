# Copyright (c) OpenMMLab. All rights reserved.
"""Segment your own images and volumes by a prompt and save the masks.

    python tools/infer.py CONFIG CHECKPOINT --img FILE|DIR|GLOB ... \\
        (--prompt TEXT ... | --prompts-file CSV | --class NAME|INDEX ...) \\
        --out DIR [--show] [--batch-size N] [--device cpu|cuda] \\
        [--threshold P] [--quiet] [volume options]

CHECKPOINT is a checkpoint file, or ``pretrained`` for the weights the
config itself names (zero-shot). 2D images give PNG masks; volumes (NIfTI,
MetaImage, NRRD, DICOM series) are segmented slice by slice and give a
mask volume with the input's geometry and a JSON record. See "Inference on
your own images" and "Volumes" in the README.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Any, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tqdm import tqdm

# Importing mmvlsm also installs the mmcv-lite fallbacks and the safe
# checkpoint types (see mmvlsm/__init__.py).
from mmvlsm.apis import (class_names, combine_prompts, foreground_probability,
                         inference_model, init_model, is_volume_input,
                         load_image, resolve_class)
from mmvlsm.datasets.volumes import (AXES, CT_WINDOWS, OUTPUT_FORMATS,
                                     read_volume, write_volume)
from mmvlsm.engine import VLSMVisualizationHook
from mmvlsm.registry import MODELS
from mmvlsm.utils.infer_io import (InferInputError, PlannedOutputs,
                                   collect_images, listed, plan_outputs,
                                   read_prompts_file)
from mmvlsm.utils.launch import int_at_least
from mmvlsm.utils.paths import write_atomic, write_png_atomic

# The CHECKPOINT that stands for the config's own pretrained weights.
PRETRAINED = 'pretrained'


def probability(text: str) -> float:
    """An argparse type: a float strictly between 0 and 1."""
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f'must lie strictly between 0 and 1, got {text}')
    return value


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Segment images and volumes by a prompt: one PNG mask '
        '(0/255, at the image size) per image, one mask volume (the '
        "input's geometry) per volume")
    parser.add_argument('config', help='model config file')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file, or "pretrained" for the weights the config '
        'names (zero-shot; a file called pretrained is ./pretrained)')
    parser.add_argument(
        '--img',
        nargs='+',
        required=True,
        help='image or volume files, folders (searched recursively for '
        'image and volume extensions; a folder of DICOM files is one '
        'series) or glob patterns (quote them; ** for sub-folders)')
    prompt = parser.add_mutually_exclusive_group(required=True)
    prompt.add_argument(
        '--prompt',
        action='append',
        help='a prompt for every input; repeat it for several prompts (one '
        'label map 1..K, legend in a JSON file)')
    prompt.add_argument(
        '--prompts-file',
        help='CSV with the columns image,prompt: one row per image and '
        'prompt (several rows give several prompts), image relative to the '
        '--img folder or a path')
    prompt.add_argument(
        '--class',
        dest='classes',
        action='append',
        help='class-prompted models (PUNet): a class name of the config\'s '
        'class_names, or its index; repeat it for several')
    parser.add_argument(
        '--out',
        required=True,
        help='output folder; outputs keep the inputs\' sub-folders and names')
    parser.add_argument(
        '--show',
        action='store_true',
        help='also write overlays with the prompt to OUT/overlays (2D '
        'images with one prompt)')
    parser.add_argument(
        '--one-file-per-prompt',
        action='store_true',
        help='with several prompts: one 0/1 mask per prompt instead of a '
        'label map')
    parser.add_argument(
        '--batch-size',
        type=int_at_least(1),
        default=8,
        help='images (slices) per forward pass (default: 8)')
    parser.add_argument(
        '--device',
        help='cpu, cuda or cuda:N (default: cuda if available, else cpu)')
    parser.add_argument(
        '--threshold',
        type=probability,
        help='probability above which a pixel is foreground (default: the '
        "config's model.test_cfg.threshold, else 0.5; class-prompted models "
        'take the more probable of background and class)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    volume = parser.add_argument_group('volumes')
    volume.add_argument(
        '--axis',
        choices=AXES,
        default='axial',
        help='anatomical slicing axis, found from the direction matrix '
        '(default: axial)')
    volume.add_argument(
        '--window',
        nargs='+',
        metavar='NAME|LEVEL WIDTH',
        help='intensities to 8 bits: a CT window by name '
        f'({", ".join(CT_WINDOWS)}), LEVEL WIDTH in HU, or "percentile [LOW '
        'HIGH]" (default: the config\'s volume_window, else percentile 0.5 '
        '99.5)')
    volume.add_argument(
        '--series',
        help='the SeriesInstanceUID of a DICOM folder with several')
    volume.add_argument(
        '--frame', type=int_at_least(0), help='the frame of 4D volumes')
    volume.add_argument(
        '--component',
        type=int_at_least(0),
        help='the component of multi-component volumes')
    volume.add_argument(
        '--save-probs',
        action='store_true',
        help='also save each prompt\'s probabilities (float32 volume)')
    volume.add_argument(
        '--output-format',
        choices=[f[1:] for f in OUTPUT_FORMATS] + ['input'],
        default='nii.gz',
        help='format of mask volumes (default: nii.gz; input: the input\'s '
        'own, .mhd as .mha, DICOM as .mha)')
    return parser.parse_args()


def window_spec(values: Optional[Sequence[str]]) -> Any:
    """``--window`` as a :func:`~mmvlsm.datasets.volumes.parse_window`
    spec."""
    if values is None:
        return None
    if values[0] == 'percentile':
        if len(values) == 1:
            return 'percentile'
        if len(values) == 3:
            try:
                return dict(percentiles=(float(values[1]), float(values[2])))
            except ValueError:
                pass
    elif len(values) == 1:
        return values[0]
    elif len(values) == 2:
        try:
            return (float(values[0]), float(values[1]))
        except ValueError:
            pass
    raise InferInputError(
        f'--window {" ".join(values)}: give a name ({", ".join(CT_WINDOWS)}), '
        'LEVEL WIDTH, or percentile [LOW HIGH]')


def names_weights(node: Any) -> bool:
    """Whether a model config names pretrained weights anywhere in it."""
    if isinstance(node, dict):
        if node.get('pretrained') or node.get('init_cfg'):
            return True
        node = list(node.values())
    if isinstance(node, (list, tuple)):
        return any(names_weights(value) for value in node)
    return False


def check_model_args(args: argparse.Namespace, cfg: Config) -> str:
    """Check checkpoint and device; return the device."""
    if args.checkpoint == PRETRAINED:
        if not names_weights(cfg.model):
            raise InferInputError(
                f'CHECKPOINT "{PRETRAINED}" uses the weights the config names'
                f', but the model of {args.config} names none (no '
                'pretrained or init_cfg): its weights would be random. Give '
                'a checkpoint file')
    elif not osp.isfile(args.checkpoint):
        raise InferInputError(f'checkpoint not found: {args.checkpoint} '
                              f'(or "{PRETRAINED}" for the config\'s weights)')
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise InferInputError(f'--device {device}: no CUDA device here')
    return device


def warn(message: str) -> None:
    # Through tqdm, so that the progress bar is redrawn below the message.
    tqdm.write(f'WARNING: {message}', file=sys.stderr)


def prompt_kind(cfg: Config) -> str:
    """``'text'`` or ``'class'``: what the config's model is prompted by."""
    init_default_scope(cfg.get('default_scope', 'mmvlsm'))
    model_type = MODELS.get(cfg.model['type'])
    return getattr(model_type, 'prompt_kind', 'text')


def input_prompts(args: argparse.Namespace, cfg: Config, root: str,
                  files: List[str]) -> tuple:
    """Each input's prompts (class indices for class-prompted models), their
    names, and the prompts-file rows that matched no input."""
    by_class = prompt_kind(cfg) == 'class'
    if by_class and args.prompt is not None:
        raise InferInputError(
            f'the model of {args.config} is prompted by a class, not by '
            'text: use --class NAME|INDEX (classes: ' +
            ', '.join((class_names(cfg) or ['none named'])[1:]) + ')')
    if not by_class and args.classes is not None:
        raise InferInputError(
            f'the model of {args.config} is prompted by text: use --prompt '
            'or --prompts-file instead of --class')
    unmatched = []
    if args.prompts_file is not None:
        given, unmatched = read_prompts_file(args.prompts_file, root, files)
    else:
        flag = '--prompt' if args.prompt is not None else '--class'
        one = args.prompt if args.prompt is not None else args.classes
        if any(not p.strip() for p in one):
            raise InferInputError(f'{flag} is empty')
        if len(set(one)) != len(one):
            raise InferInputError(f'{flag} gives a prompt twice: {one}')
        given = [list(one)] * len(files)
    if not by_class:
        return given, given, unmatched
    try:
        resolved = [[resolve_class(class_names(cfg), p) for p in ps]
                    for ps in given]
    except (TypeError, ValueError) as err:
        raise InferInputError(str(err)) from err
    return ([[index for index, _ in r] for r in resolved],
            [[name for _, name in r] for r in resolved], unmatched)


def threshold_of(model: torch.nn.Module) -> Optional[float]:
    """The probability threshold of a text-prompted model; None for a
    class-prompted one (background against class)."""
    test_cfg = getattr(model, 'test_cfg', None)
    if getattr(model, 'prompt_kind', 'text') == 'class' or test_cfg is None:
        return None
    return test_cfg.get('threshold', 0.5)


def write_record(path: str, record: dict) -> None:
    write_atomic(path, json.dumps(record, indent=2) + '\n')


def segment_image(model: torch.nn.Module, args: argparse.Namespace, path: str,
                  img: np.ndarray, prompts: list, names: List[str],
                  outputs: PlannedOutputs) -> None:
    """One 2D image with several prompts: a label map and its legend, or
    one mask per prompt."""
    samples = inference_model(
        model, [img] * len(prompts), prompts, batch_size=args.batch_size)
    masks = [
        s.pred_sem_seg.data[0].cpu().numpy().astype(bool) for s in samples
    ]
    if args.one_file_per_prompt:
        for file, mask in zip(outputs.masks, masks):
            write_png_atomic(file, mask.astype(np.uint8) * 255)
        return
    probs = [foreground_probability(s).cpu().numpy() for s in samples]
    write_png_atomic(outputs.masks[0], combine_prompts(masks, probs))
    legend = {'0': 'background'}
    legend.update({str(k): name for k, name in enumerate(names, 1)})
    write_record(outputs.record,
                 dict(source=path, legend=legend, prompts=prompts))


def segment_volume_file(model: torch.nn.Module, args: argparse.Namespace,
                        path: str, prompts: list, names: List[str],
                        outputs: PlannedOutputs) -> None:
    """One volume: the mask volume(s), probabilities and the JSON record."""
    volume = read_volume(path, args.series, args.frame, args.component)
    if not volume.spacing_declared:
        warn(f'{path} does not state its voxel spacing: 1 mm assumed')
    options = dict(
        axis=args.axis,
        window=window_spec(args.window),
        batch_size=args.batch_size,
        return_probs=args.save_probs,
        progress=not args.quiet)
    if args.one_file_per_prompt and len(prompts) > 1:
        results = [
            inference_model(model, volume, [p], **options) for p in prompts
        ]
    else:
        results = [inference_model(model, volume, prompts, **options)]
    for file, result in zip(outputs.masks, results):
        write_volume(result.mask, file)
    probability_files = iter(outputs.probabilities)
    for result in results:
        for k in range(len(result.prompts) if args.save_probs else 0):
            write_volume(result.probability_image(k), next(probability_files))
    record = dict(
        source=path,
        series_uid=volume.series_uid,
        size_xyz=list(volume.image.GetSize()),
        spacing_xyz=list(volume.image.GetSpacing()),
        spacing_declared=volume.spacing_declared,
        axis=results[0].axis,
        window=results[0].window,
        threshold=threshold_of(model),
        prompts=prompts,
        config=args.config,
        checkpoint=args.checkpoint)
    if len(results) == 1:
        record.update(
            mask=osp.basename(outputs.masks[0]), legend=results[0].legend())
    else:  # one 0/1 mask per prompt
        record['masks'] = {
            osp.basename(f): name
            for f, name in zip(outputs.masks, names)
        }
    record['probabilities'] = [osp.basename(f) for f in outputs.probabilities]
    write_record(outputs.record, record)


def segment(model: torch.nn.Module, args: argparse.Namespace, files: List[str],
            prompts: List[list], names: List[List[str]], volumes: List[bool],
            planned: List[PlannedOutputs]) -> int:
    """Segment the inputs; return how many were written.

    2D images with one prompt go through the model in batches; an image
    with several prompts and each volume on their own.
    """
    written = 0
    bar = tqdm(
        total=len(files),
        unit='input',
        disable=args.quiet or len(files) == 1,
        file=sys.stderr)
    batch: List[tuple] = []

    def flush() -> int:
        if not batch:
            return 0
        samples = inference_model(
            model, [img for _, img in batch],
            [prompts[i][0] for i, _ in batch],
            batch_size=len(batch))
        for (i, img), sample in zip(batch, samples):
            pred = sample.pred_sem_seg.data[0].cpu().numpy().astype(bool)
            write_png_atomic(planned[i].masks[0], pred.astype(np.uint8) * 255)
            if planned[i].overlay:
                if img.ndim == 2:  # a grey loader's image
                    img = np.repeat(img[..., None], 3, axis=2)
                write_png_atomic(
                    planned[i].overlay,
                    VLSMVisualizationHook.draw_overlay(img, pred, names[i][0]))
            bar.update()
        done = len(batch)
        batch.clear()
        return done

    for i, path in enumerate(files):
        # A bad file is skipped: one file must not stop a folder.
        try:
            if volumes[i]:
                segment_volume_file(model, args, path, prompts[i], names[i],
                                    planned[i])
                written += 1
                bar.update()
                continue
            img = load_image(model, path)
        except Exception as err:
            # Loader errors name the file already.
            name = '' if path in str(err) else f' {path}'
            warn(f'skipped{name}: {err}')
            bar.update()
            continue
        if len(prompts[i]) > 1:
            segment_image(model, args, path, img, prompts[i], names[i],
                          planned[i])
            written += 1
            bar.update()
        else:
            batch.append((i, img))
            if len(batch) == args.batch_size:
                written += flush()
    written += flush()
    bar.close()
    return written


def main() -> None:
    args = parse_args()
    try:
        if not osp.isfile(args.config):
            raise InferInputError(f'config not found: {args.config}')
        cfg = Config.fromfile(args.config)
        if cfg.get('default_scope') != 'mmvlsm':
            raise InferInputError(
                f'{args.config} is not a segmentation config (default_scope '
                f"{cfg.get('default_scope')!r}); infer.py segments images "
                'from prompts. Evaluate classifiers with tools/test.py.')
        device = check_model_args(args, cfg)
        window_spec(args.window)  # checked before any work
        if args.threshold is not None and prompt_kind(cfg) == 'class':
            raise InferInputError(
                '--threshold: a class-prompted model labels a pixel with the '
                'more probable of background and class; it has no threshold')
        root, files, ignored = collect_images(args.img, args.out)
        prompts, names, unmatched = input_prompts(args, cfg, root, files)
        volumes = [is_volume_input(path) for path in files]
        protected = files + [args.config] + [
            p for p in (args.prompts_file, args.checkpoint)
            if p is not None and osp.isfile(p)
        ]
        planned = plan_outputs(
            root,
            files,
            args.out,
            args.show,
            protected,
            prompts=names,
            volumes=volumes,
            one_file_per_prompt=args.one_file_per_prompt,
            save_probs=args.save_probs,
            volume_format=('input' if args.output_format == 'input' else '.' +
                           args.output_format))
    except InferInputError as err:
        sys.exit(f'infer.py: error: {err}')
    if ignored:
        warn(f'ignored {len(ignored)} files that are neither images nor '
             f'volumes by their extension: {listed(ignored)}')
    if unmatched:
        warn(f'{len(unmatched)} rows of {args.prompts_file} name no image of '
             f'--img: {listed(unmatched)}')
    if args.show and any(volumes):
        warn('--show draws overlays of 2D images only; volumes get none')

    model = init_model(
        cfg, None if args.checkpoint == PRETRAINED else args.checkpoint,
        device)
    if args.threshold is not None:
        model.test_cfg['threshold'] = args.threshold
    written = segment(model, args, files, prompts, names, volumes, planned)
    skipped = len(files) - written
    where = f'masks in {args.out}'
    if args.show and not all(volumes):
        where += f', overlays in {osp.join(args.out, "overlays")}'
    print(f'{written} masks written, {skipped} skipped; {where}')
    if not written:
        sys.exit('infer.py: error: no image could be segmented (see the '
                 'warnings above)')


if __name__ == '__main__':
    main()
