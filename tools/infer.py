# Copyright (c) OpenMMLab. All rights reserved.
"""Segment your own images by a text prompt and save the masks as PNGs.

    python tools/infer.py CONFIG CHECKPOINT --img FILE|DIR|GLOB ... \\
        (--prompt TEXT | --prompts-file CSV) --out DIR [--show] \\
        [--batch-size N] [--device cpu|cuda] [--threshold P] [--quiet]

CHECKPOINT is a checkpoint file, or ``pretrained`` for the weights the
config itself names (zero-shot). See "Inference on your own images" in the
README.
"""
import argparse
import os.path as osp
import sys
from typing import Any, List

import numpy as np
import torch
from mmengine.config import Config
from tqdm import tqdm

# Importing mmvlsm also installs the mmcv-lite fallbacks and the safe
# checkpoint types (see mmvlsm/__init__.py).
from mmvlsm.apis import inference_model, init_model, load_image
from mmvlsm.engine import VLSMVisualizationHook
from mmvlsm.utils.infer_io import (InferInputError, collect_images, listed,
                                   plan_outputs, read_prompts_file)
from mmvlsm.utils.launch import int_at_least
from mmvlsm.utils.paths import write_png_atomic

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
        description='Segment images by a text prompt and save one PNG mask '
        '(0/255, at the image size) per image')
    parser.add_argument('config', help='model config file')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file, or "pretrained" for the weights the config '
        'names (zero-shot; a file called pretrained is ./pretrained)')
    parser.add_argument(
        '--img',
        nargs='+',
        required=True,
        help='image files, folders (searched recursively for image '
        'extensions) or glob patterns (quote them; ** for sub-folders)')
    prompt = parser.add_mutually_exclusive_group(required=True)
    prompt.add_argument('--prompt', help='one prompt for every image')
    prompt.add_argument(
        '--prompts-file',
        help='CSV with the columns image,prompt: one row per image, image '
        'relative to the --img folder or a path')
    parser.add_argument(
        '--out',
        required=True,
        help='output folder; masks keep the inputs\' sub-folders and names '
        'with a .png extension')
    parser.add_argument(
        '--show',
        action='store_true',
        help='also write overlays with the prompt to OUT/overlays')
    parser.add_argument(
        '--batch-size',
        type=int_at_least(1),
        default=8,
        help='images per forward pass (default: 8)')
    parser.add_argument(
        '--device',
        help='cpu, cuda or cuda:N (default: cuda if available, else cpu)')
    parser.add_argument(
        '--threshold',
        type=probability,
        help='probability above which a pixel is foreground (default: the '
        "config's model.test_cfg.threshold, else 0.5)")
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    return parser.parse_args()


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


def segment(model: torch.nn.Module, args: argparse.Namespace, files: List[str],
            prompts: List[str], masks: List[str], overlays: List[str]) -> int:
    """Segment the images batch by batch; return how many were written."""
    written = 0
    bar = tqdm(
        total=len(files),
        unit='img',
        disable=args.quiet or len(files) == 1,
        file=sys.stderr)
    for start in range(0, len(files), args.batch_size):
        batch = []
        for i in range(start, min(start + args.batch_size, len(files))):
            # A bad file is skipped: one file must not stop a folder.
            try:
                batch.append((i, load_image(model, files[i])))
            except Exception as err:
                # Loader errors name the file already.
                name = '' if files[i] in str(err) else f' {files[i]}'
                warn(f'skipped{name}: {err}')
                bar.update()
        if not batch:
            continue
        samples = inference_model(
            model, [img for _, img in batch], [prompts[i] for i, _ in batch],
            batch_size=len(batch))
        for (i, img), sample in zip(batch, samples):
            pred = sample.pred_sem_seg.data[0].cpu().numpy().astype(bool)
            write_png_atomic(masks[i], pred.astype(np.uint8) * 255)
            if args.show:
                write_png_atomic(
                    overlays[i],
                    VLSMVisualizationHook.draw_overlay(img, pred, prompts[i]))
            written += 1
            bar.update()
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
        if args.prompt is not None and not args.prompt.strip():
            raise InferInputError('--prompt is empty')
        root, files, ignored = collect_images(args.img, args.out)
        if args.prompts_file is not None:
            prompts, unmatched = read_prompts_file(args.prompts_file, root,
                                                   files)
        else:
            prompts, unmatched = [args.prompt] * len(files), []
        protected = files + [args.config] + [
            p for p in (args.prompts_file, args.checkpoint)
            if p is not None and osp.isfile(p)
        ]
        masks, overlays = plan_outputs(root, files, args.out, args.show,
                                       protected)
    except InferInputError as err:
        sys.exit(f'infer.py: error: {err}')
    if ignored:
        warn(f'ignored {len(ignored)} files that are not images by their '
             f'extension: {listed(ignored)}')
    if unmatched:
        warn(f'{len(unmatched)} rows of {args.prompts_file} name no image of '
             f'--img: {listed(unmatched)}')

    model = init_model(
        cfg, None if args.checkpoint == PRETRAINED else args.checkpoint,
        device)
    if args.threshold is not None:
        model.test_cfg['threshold'] = args.threshold
    written = segment(model, args, files, prompts, masks, overlays)
    skipped = len(files) - written
    where = f'masks in {args.out}'
    if args.show:
        where += f', overlays in {osp.join(args.out, "overlays")}'
    print(f'{written} masks written, {skipped} skipped; {where}')
    if not written:
        sys.exit('infer.py: error: no image could be segmented (see the '
                 'warnings above)')


if __name__ == '__main__':
    main()
