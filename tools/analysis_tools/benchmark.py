# Copyright (c) OpenMMLab. All rights reserved.
"""Measure a text-prompted segmentor's (or a classifier's) speed and memory.

Runs the model of CONFIG on one synthetic batch in two ways and prints both
and their ratio:

- **mmvlsm**: the path the Runner takes, ``model.train_step`` (data
  preprocessor, losses, ``OptimWrapper``) and ``model.test_step``
  (postprocessing to the original size included), on a batch made as the
  dataloader makes it: the config's ``TokenizePrompt`` and
  ``PackVLSMInputs`` per sample, then ``default_collate``;
- **plain PyTorch**: the same ``nn.Module`` driven by a hand-written loop,
  with the batch normalised and tokenised once, the config's loss at the
  size the model computes it (``train_cfg.loss_size``), the config's
  ``torch.optim`` optimizer with its per-key learning rates, inference that
  resizes to the input size and thresholds at the model's threshold, and
  ``torch.autocast`` + ``GradScaler`` for ``--amp``.

Further modes:

- ``--batch-sizes 1 8 32``: mmvlsm's train and inference throughput and peak
  memory per batch size (``--plot FILE.png`` draws throughput against batch
  size);
- ``--data DIR``: images/s of the config's real train dataloader over the
  medvlsm dataset in DIR with 0, 2, 4 and 8 workers (``--workers``), next
  to the model's images/s, to show whether loading is the bottleneck;
- ``--profile``: the torch profiler's top operators of mmvlsm's train and
  test steps;
- ``--against CONFIG2 ...``: mmvlsm's train step and inference of several
  models side by side, each at its own input size (e.g. BiomedCLIPSeg at
  224 next to CLIPSeg at 352), with their parameter counts;
- ``--against-hf`` (CLIPSeg configs): the user path, ``inference_model``
  on PIL images of four sizes, against transformers' own:
  ``ViTImageProcessor``, ``CLIPSegForImageSegmentation`` with the same
  weights, sigmoid, resize to each image's size, threshold; ``--images``
  images, ``--batch-size`` at a time, alternating rounds, with the ratio
  and how many pixels the two sets of masks share (``--amp`` runs both
  under the same ``torch.autocast``);
- ``--volume [Z Y X]`` (100 512 512 without values): slices/s of a
  synthetic CT (int16 HU, 0.7 x 0.7 x 2.5 mm, written as
  ``--volume-format``) through ``read_volume``, ``inference_model`` (the
  abdomen window, ``--batch-size`` slices at a time) and ``write_volume``
  of the mask, with the share of reading, windowing and writing.

Classification configs (CITE and its baselines) run in every mode but the
plain PyTorch comparison, on batches of random images with labels packed
by ``PackInputs``. On the CPU the peak memory is the process's, which only
grows: measure one config per process to compare memory.

Examples::

    python tools/analysis_tools/benchmark.py \\
        configs/clipseg/clipseg-rd64-refined_1xb128_kvasir-polyp-352x352.py \\
        --batch-size 4 --amp bf16

(configs/cite/README.md gives the command that puts CITE's train step next
to full fine-tuning.)
"""
import argparse
import gc
import os
import os.path as osp
import resource
import statistics
import tempfile
import time
from contextlib import nullcontext
from typing import Callable, Dict, List, Sequence, Tuple, Union

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import PixelData
from PIL import Image

# Importing mmvlsm also installs the mmcv-lite fallbacks.
from mmvlsm.apis import inference_model
from mmvlsm.apis.inference import prompted_by_class
from mmvlsm.datasets.volumes import (OUTPUT_FORMATS, parse_window, read_volume,
                                     slice_layout, write_volume)
from mmvlsm.models.segmentors import TextPromptedSegmentor
from mmvlsm.structures import VolumeData
from mmvlsm.registry import task_registries
from mmvlsm.utils.launch import (AMP_DTYPES, add_cfg_options_args,
                                 config_scope, load_config)

PROMPTS = ('one medium yellow round polyp located in right of the image',
           'polyp', 'skin melanoma', 'foot ulcer')
# Pipeline steps whose scale is the model's input size.
RESIZES = ('Resize', 'LetterBoxResize')
# --volume: the synthetic CT's default size (z, y, x), its voxel size (mm,
# same order), the window and the prompt it is segmented with.
VOLUME_SHAPE = (100, 512, 512)
VOLUME_SPACING = (2.5, 0.7, 0.7)
VOLUME_WINDOW = 'abdomen'
VOLUME_PROMPT = 'liver'
# --against-hf: the (height, width) of the images, in turn (Kvasir-SEG's
# photos range from 332 x 487 to 1072 x 1920).
HF_IMAGE_SIZES = ((332, 487), (576, 720), (1072, 1350), (352, 352))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument(
        '--batch-sizes',
        type=int,
        nargs='+',
        help='sweep these batch sizes (mmvlsm path only)')
    parser.add_argument(
        '--plot', help='with --batch-sizes: save throughput vs batch size')
    parser.add_argument(
        '--data', help='medvlsm dataset root to time the real dataloader on')
    parser.add_argument(
        '--workers',
        type=int,
        nargs='+',
        default=[0, 2, 4, 8],
        help='with --data: worker counts to time')
    parser.add_argument(
        '--against',
        nargs='+',
        metavar='CONFIG',
        help='time these configs\' models too, one row each (mmvlsm path; '
        '--cfg-options apply to the first config only)')
    parser.add_argument(
        '--against-hf',
        action='store_true',
        help='time inference_model against transformers\' CLIPSeg path '
        '(CLIPSeg configs)')
    parser.add_argument(
        '--images',
        type=int,
        default=16,
        help='with --against-hf: how many images (of four sizes in turn)')
    parser.add_argument(
        '--volume',
        type=int,
        nargs='*',
        metavar='Z Y X',
        help='time a synthetic CT of this size (default '
        f'{" ".join(map(str, VOLUME_SHAPE))}) through read, segmentation '
        'and write')
    parser.add_argument(
        '--volume-format',
        default='nii.gz',
        choices=[fmt[1:] for fmt in OUTPUT_FORMATS],
        help='with --volume: the file format of the CT')
    parser.add_argument(
        '--profile',
        action='store_true',
        help='print the profiler\'s top operators of mmvlsm\'s steps')
    parser.add_argument(
        '--img-size',
        type=int,
        default=None,
        help='input side; default: the config\'s (LetterBox)Resize scale')
    parser.add_argument('--steps', type=int, default=20, help='timed steps')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument(
        '--inference-only',
        action='store_true',
        help='time inference alone (no train step, no optimizer)')
    parser.add_argument(
        '--rounds',
        type=int,
        default=3,
        help='alternating rounds of the mmvlsm / plain comparison')
    parser.add_argument(
        '--amp',
        nargs='?',
        const='fp16',
        choices=list(AMP_DTYPES),
        help='mixed precision (fp16 without a value)')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device to run on')
    add_cfg_options_args(parser)
    args = parser.parse_args()
    if args.inference_only and (args.batch_sizes or args.profile):
        parser.error('--inference-only applies to the mmvlsm / plain '
                     'comparison, not to --batch-sizes or --profile')
    if args.against and (args.batch_sizes or args.profile or args.data
                         or args.img_size or args.inference_only):
        parser.error('--against compares train steps and inference at each '
                     'model\'s own input size; it does not combine with '
                     '--batch-sizes, --profile, --data, --img-size or '
                     '--inference-only')
    if args.against_hf and (args.against or args.batch_sizes or args.profile
                            or args.data or args.volume is not None):
        parser.error('--against-hf times inference alone; it does not '
                     'combine with --against, --batch-sizes, --profile, '
                     '--data or --volume')
    if args.volume == []:
        args.volume = list(VOLUME_SHAPE)
    if args.volume is not None:
        if len(args.volume) != 3 or min(args.volume) < 1:
            parser.error('--volume takes three sizes Z Y X >= 1, got '
                         f'{args.volume}')
        if (args.against or args.batch_sizes or args.profile or args.data
                or args.inference_only):
            parser.error('--volume times volume inference alone; it does '
                         'not combine with --against, --batch-sizes, '
                         '--profile, --data or --inference-only')
    return args


def train_pipeline(cfg: Config) -> List[dict]:
    """The train dataset's pipeline (the first one's in a pooled set)."""
    dataset = cfg.train_dataloader.dataset
    dataset = dataset['datasets'][0] if 'datasets' in dataset else dataset
    return dataset.get('pipeline', [])


def input_size(cfg: Config) -> Union[int, Tuple[int, int, int]]:
    """The side of the model input: the train pipeline's ``Resize`` or
    ``LetterBoxResize`` scale or ``RandomCrop`` size, else the backbone's
    ``img_size``; for 3D models the ``RandomVolumeCrop`` size (H, W, D)."""
    for step in train_pipeline(cfg):
        if step['type'] == 'RandomVolumeCrop':  # 3D PUNet's teacher crop
            return tuple(step['crop_size'])
        if step['type'] in RESIZES and step.get('scale'):
            scale = step['scale']
            return scale if isinstance(scale, int) else scale[0]
        if step['type'] == 'RandomCrop':  # PUNet's crops of full slices
            return step['crop_size'][0]
    img_size = (cfg.model.get('backbone') or {}).get('img_size')
    if isinstance(img_size, int):
        return img_size
    return cfg.get('img_scale', (352, 352))[0]


def input_text(size: Union[int, Tuple[int, ...]], square: bool = True) -> str:
    """``352x352`` (``352`` without ``square``) for a side, ``128x128x4``
    for a volume."""
    if isinstance(size, tuple):
        return 'x'.join(map(str, size))
    return f'{size}x{size}' if square else str(size)


def pack_pipeline(cfg: Config) -> Compose:
    """The config's tokenising and packing steps (the train pipeline's)."""
    packs = ('TokenizePrompt', 'PackVLSMInputs', 'PackInputs',
             'PackVolumeInputs')
    steps = [step for step in train_pipeline(cfg) if step['type'] in packs]
    return Compose(steps or [dict(type='PackVLSMInputs')])


def synthetic_batch(pipeline: Compose,
                    batch_size: int,
                    size: Union[int, Tuple[int, int, int]],
                    channels: int = 3) -> dict:
    """A batch as the dataloader gives it: one stacked uint8 image tensor
    and data samples. Segmentation: ``SegDataSample`` s holding the
    prompt's tokens (or, for PUNet, an active class) and a mask;
    classification (a ``PackInputs`` pipeline): ``DataSample`` s with a
    label (cycling over 3 classes) and a slide id. A 3D ``size`` (H, W, D)
    gives one-channel volumes and ``VolumeData`` masks."""
    generator = torch.Generator().manual_seed(0)
    volumetric = isinstance(size, tuple)
    shape = size if volumetric else (size, size)
    items = []
    for i in range(batch_size):
        img = torch.randint(
            0,
            256,
            shape if volumetric else (*shape, channels),
            generator=generator,
            dtype=torch.uint8)
        items.append(
            pipeline(
                dict(
                    img=img.numpy(),
                    img_shape=shape,
                    ori_shape=shape,
                    spacing=(1.0, ) * len(shape),
                    text=PROMPTS[i % len(PROMPTS)],
                    active_class=1 + i % 3,
                    gt_label=i % 3,
                    slide_id=f'slide{i // 4}')))
    batch = default_collate(items)
    for sample in batch['data_samples']:
        if 'gt_label' not in sample:
            mask = torch.rand(1, *shape, generator=generator) > 0.7
            data = VolumeData if volumetric else PixelData
            sample.gt_sem_seg = data(data=mask.long())
    return batch


def image_channels(cfg: Config) -> int:
    """Channels of the model's images: its data preprocessor's ``mean``
    length (1 for PUNet's CT), else 3."""
    mean = (cfg.model.get('data_preprocessor') or {}).get('mean')
    return len(mean) if mean else 3


def build_model(cfg: Config, device: torch.device) -> torch.nn.Module:
    """The config's model, from the registries of its task."""
    init_default_scope(config_scope(cfg))
    return task_registries(config_scope(cfg)).MODELS.build(
        cfg.model).to(device)


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], steps: int, warmup: int,
          device: torch.device) -> Dict[str, float]:
    """Seconds per call of ``fn`` and peak memory (MiB) over the run.

    On a GPU the peak is the allocator's over the timed calls; on the CPU
    it is the process's peak resident memory so far, which only grows.
    """
    for _ in range(warmup):
        fn()
    synchronize(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    synchronize(device)
    seconds = (time.perf_counter() - start) / steps
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    return dict(seconds=seconds, peak=peak)


def release_memory(model: torch.nn.Module, device: torch.device) -> None:
    """Free gradients and cached blocks between the measured phases."""
    model.zero_grad(set_to_none=True)
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()


def autocast_fn(args: argparse.Namespace,
                device: torch.device) -> Callable[[], object]:
    if args.amp is None:
        return nullcontext
    dtype = getattr(torch, AMP_DTYPES[args.amp])
    return lambda: torch.autocast(device.type, dtype=dtype)


def measure_mmvlsm(model: torch.nn.Module, batch: dict, optim_cfg: dict,
                   args: argparse.Namespace,
                   device: torch.device) -> Tuple[dict, dict]:
    """Time the Runner's path: ``train_step`` and ``test_step``."""
    train = None
    if not args.inference_only:
        optim_wrapper = build_optim_wrapper(model, optim_cfg)
        model.train()
        train = timed(lambda: model.train_step(batch, optim_wrapper),
                      args.steps, args.warmup, device)
        # Inference memory must not count the optimizer state and gradients.
        optim_wrapper.optimizer.state.clear()
        release_memory(model, device)
    model.eval()
    with torch.no_grad(), autocast_fn(args, device)():
        test = timed(lambda: model.test_step(batch), args.steps, args.warmup,
                     device)
    release_memory(model, device)
    return train, test


def plain_loss(model: torch.nn.Module, logits: torch.Tensor,
               gt: torch.Tensor) -> torch.Tensor:
    """The model's configured loss, as a hand-written loop computes it.

    Logits and masks are brought to one size as ``model.loss_size`` says:
    ``'logits'`` resizes the masks (nearest) to the logits (CRIS's 1/4
    resolution), ``'input'`` the logits (bilinear) to the masks. The
    config's loss modules (``model.losses``, e.g. ``SigmoidBCELoss`` and
    ``SoftDiceLoss`` with their ``loss_weight``) are then called and summed.
    They are plain ``nn.Module`` s of a few tensor operations, the code a
    hand-written loop would inline; calling them keeps both paths computing
    the same loss for every config, without a copy that could drift.

    Args:
        model (nn.Module): A ``TextPromptedSegmentor``.
        logits (Tensor): Logits of shape (B, 1, h, w).
        gt (Tensor): Float masks in {0, 1} of shape (B, 1, H, W).

    Returns:
        Tensor: The summed loss.
    """
    if logits.shape[-2:] != gt.shape[-2:]:
        if model.loss_size == 'logits':
            gt = F.interpolate(gt, size=logits.shape[-2:], mode='nearest')
        else:
            logits = F.interpolate(
                logits,
                size=gt.shape[-2:],
                mode='bilinear',
                align_corners=model.align_corners)
    return sum(loss(logits, gt) for loss in model.losses)


def plain_optimizer(model: torch.nn.Module,
                    optim_cfg: dict) -> torch.optim.Optimizer:
    """The config's optimizer, built as plain PyTorch builds it.

    ``torch.optim.<type>`` with the config's arguments over the trainable
    parameters, in one group per learning rate and weight decay that
    ``paramwise_cfg.custom_keys`` give them: like mmengine, the longest key
    contained in a parameter's name sets its ``lr_mult`` and
    ``decay_mult``. Other paramwise options are refused rather than
    silently left out of the comparison.

    Args:
        model (nn.Module): The model.
        optim_cfg (dict): The config's ``optim_wrapper``.

    Returns:
        torch.optim.Optimizer: The optimizer.
    """
    kwargs = dict(optim_cfg['optimizer'])
    name = kwargs.pop('type')
    optimizer_cls = getattr(torch.optim, name, None)
    if optimizer_cls is None:
        raise ValueError(f'the plain loop uses torch.optim.<type>, and '
                         f'torch.optim has no {name}')
    paramwise = optim_cfg.get('paramwise_cfg') or {}
    custom_keys = paramwise.get('custom_keys', {})
    unsupported = (set(paramwise) - {'custom_keys'}) | {
        field
        for mults in custom_keys.values()
        for field in mults if field not in ('lr_mult', 'decay_mult')
    }
    if unsupported:
        raise ValueError('the plain loop reproduces the lr_mult and '
                         'decay_mult of paramwise_cfg.custom_keys only, not '
                         f'{sorted(unsupported)}')
    keys = sorted(sorted(custom_keys), key=len, reverse=True)
    groups: Dict[Tuple[float, float], List[torch.nn.Parameter]] = {}
    for param_name, param in model.named_parameters():
        if param.requires_grad:
            key = next((key for key in keys if key in param_name), None)
            mults = custom_keys[key] if key is not None else {}
            groups.setdefault(
                (mults.get('lr_mult', 1.0), mults.get('decay_mult', 1.0)),
                []).append(param)
    param_groups = []
    for (lr_mult, decay_mult), params in groups.items():
        group = dict(params=params, lr=kwargs['lr'] * lr_mult)
        if 'weight_decay' in kwargs:
            group['weight_decay'] = kwargs['weight_decay'] * decay_mult
        param_groups.append(group)
    return optimizer_cls(param_groups, **kwargs)


def measure_plain(model: torch.nn.Module, batch: dict, optim_cfg: dict,
                  args: argparse.Namespace,
                  device: torch.device) -> Tuple[dict, dict]:
    """Time a hand-written loop over the same module.

    The batch is normalised, moved to the device and tokenised once, outside
    the timed loop. Each train step computes the config's loss
    (:func:`plain_loss`) and steps the config's optimizer
    (:func:`plain_optimizer`); inference turns the logits into
    probabilities, resizes them to the input size (the synthetic batch's
    original size, to which mmvlsm's ``test_step`` resizes) and thresholds
    them at the model's ``test_cfg['threshold']``.
    """
    data = model.data_preprocessor(batch, True)
    inputs, samples = data['inputs'], data['data_samples']
    gt = torch.stack([s.gt_sem_seg.data for s in samples]).float()
    input_ids, attention_mask = model.tokenize(samples, device)
    optimizer = plain_optimizer(model, optim_cfg)
    params = [p for group in optimizer.param_groups for p in group['params']]
    scaler = torch.amp.GradScaler(device.type, enabled=args.amp == 'fp16')
    # The config's gradient clipping, as the OptimWrapper applies it.
    max_norm = (optim_cfg.get('clip_grad') or {}).get('max_norm')
    autocast = autocast_fn(args, device)
    threshold = model.test_cfg.get('threshold', 0.5)

    def forward() -> torch.Tensor:
        return model.segment(inputs, input_ids, attention_mask)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss = plain_loss(model, forward(), gt)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, max_norm)
        scaler.step(optimizer)
        scaler.update()

    def infer() -> torch.Tensor:
        prob = forward().sigmoid()
        if prob.shape[-2:] != inputs.shape[-2:]:
            prob = F.interpolate(
                prob,
                size=inputs.shape[-2:],
                mode='bilinear',
                align_corners=model.align_corners)
        return prob > threshold

    train = None
    if not args.inference_only:
        model.train()
        train = timed(train_step, args.steps, args.warmup, device)
        optimizer.state.clear()
        release_memory(model, device)
    model.eval()
    with torch.no_grad(), autocast():
        test = timed(infer, args.steps, args.warmup, device)
    release_memory(model, device)
    return train, test


def amp_optim_cfg(cfg: Config, args: argparse.Namespace) -> dict:
    optim_cfg = cfg.optim_wrapper.copy()
    if args.amp is not None:
        optim_cfg.update(
            type='AmpOptimWrapper',
            dtype=AMP_DTYPES[args.amp],
            loss_scale='dynamic')
    return optim_cfg


def compare(model: torch.nn.Module, cfg: Config, args: argparse.Namespace,
            size: int, device: torch.device) -> None:
    """mmvlsm against plain PyTorch at ``--batch-size``.

    The two paths alternate for ``--rounds`` rounds and the median of each
    is reported, so that drifts of the machine's speed (frequency, other
    processes) hit both alike.
    """
    batch = synthetic_batch(
        pack_pipeline(cfg), args.batch_size, size, image_channels(cfg))
    optim_cfg = amp_optim_cfg(cfg, args)
    runs: Dict[str, List[dict]] = dict(
        mm_train=[], mm_test=[], plain_train=[], plain_test=[])
    for _ in range(args.rounds):
        for name, measure in (('mm', measure_mmvlsm), ('plain',
                                                       measure_plain)):
            train, test = measure(model, batch, optim_cfg, args, device)
            runs[f'{name}_train'].append(train)
            runs[f'{name}_test'].append(test)

    def median(key: str, field: str) -> float:
        return statistics.median(run[field] for run in runs[key])

    print(f'{"":<24}{"mmvlsm":>12}{"plain torch":>14}{"ratio":>8}'
          f'   (median of {args.rounds} rounds)')
    rows = [('inference (images/s)',
             args.batch_size / median('mm_test', 'seconds'),
             args.batch_size / median('plain_test', 'seconds')),
            ('test peak mem (MiB)', max(r['peak'] for r in runs['mm_test']),
             max(r['peak'] for r in runs['plain_test']))]
    if not args.inference_only:
        rows = [
            ('train step (ms)', median('mm_train', 'seconds') * 1e3,
             median('plain_train', 'seconds') * 1e3),
            ('train peak mem (MiB)', max(r['peak'] for r in runs['mm_train']),
             max(r['peak'] for r in runs['plain_train']))
        ] + rows
    for name, mm_value, plain_value in rows:
        print(f'{name:<24}{mm_value:>12.1f}{plain_value:>14.1f}'
              f'{mm_value / plain_value:>8.2f}')


def sweep(model: torch.nn.Module, cfg: Config, args: argparse.Namespace,
          size: int, device: torch.device) -> List[dict]:
    """mmvlsm's throughput and peak memory for each of ``--batch-sizes``."""
    pipeline = pack_pipeline(cfg)
    optim_cfg = amp_optim_cfg(cfg, args)
    print(f'{"batch":>6}{"train img/s":>14}{"test img/s":>13}'
          f'{"train MiB":>12}{"test MiB":>11}')
    rows = []
    for batch_size in args.batch_sizes:
        batch = synthetic_batch(pipeline, batch_size, size,
                                image_channels(cfg))
        train, test = measure_mmvlsm(model, batch, optim_cfg, args, device)
        row = dict(
            batch_size=batch_size,
            train=batch_size / train['seconds'],
            test=batch_size / test['seconds'],
            train_peak=train['peak'],
            test_peak=test['peak'])
        rows.append(row)
        print(f'{batch_size:>6}{row["train"]:>14.1f}{row["test"]:>13.1f}'
              f'{row["train_peak"]:>12.0f}{row["test_peak"]:>11.0f}')
    return rows


def plot_sweep(rows: List[dict], title: str, out_file: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    sizes = [row['batch_size'] for row in rows]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(sizes, [row['train'] for row in rows], 'o-', label='train')
    ax.plot(sizes, [row['test'] for row in rows], 's-', label='inference')
    ax.set_xscale('log', base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel('batch size')
    ax.set_ylabel('images / s')
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_file, dpi=120)
    print(f'plot saved to {out_file}')


def compare_models(configs: List[Tuple[str, Config]], args: argparse.Namespace,
                   device: torch.device) -> None:
    """mmvlsm's train step and inference of several models, one row each,
    every model at its own input size."""
    names = [osp.splitext(osp.basename(path))[0] for path, _ in configs]
    width = max(len(name) for name in names) + 2
    print(f'{"config":<{width}}{"input":>6}{"params M":>10}'
          f'{"trainable M":>12}{"train ms":>10}{"train img/s":>12}'
          f'{"test img/s":>11}{"train MiB":>10}')
    for name, (_, cfg) in zip(names, configs):
        model = build_model(cfg, device)
        size = input_size(cfg)
        batch = synthetic_batch(
            pack_pipeline(cfg), args.batch_size, size, image_channels(cfg))
        train, test = measure_mmvlsm(model, batch, amp_optim_cfg(cfg, args),
                                     args, device)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        trainable = sum(p.numel()
                        for p in model.parameters() if p.requires_grad) / 1e6
        print(
            f'{name:<{width}}{input_text(size, square=False):>6}{params:>10.1f}{trainable:>12.3f}'
            f'{train["seconds"] * 1e3:>10.0f}'
            f'{args.batch_size / train["seconds"]:>12.1f}'
            f'{args.batch_size / test["seconds"]:>11.1f}'
            f'{train["peak"]:>10.0f}')
        del model
        gc.collect()
        if device.type == 'cuda':
            torch.cuda.empty_cache()


def time_dataloader(cfg: Config, args: argparse.Namespace) -> None:
    """Images/s of the real train dataloader for each worker count."""
    print(f'dataloader over {args.data} (batch {args.batch_size}):')
    print(f'{"workers":>8}{"images/s":>12}')
    for workers in args.workers:
        loader_cfg = cfg.train_dataloader.copy()
        loader_cfg.update(
            batch_size=args.batch_size,
            num_workers=workers,
            persistent_workers=False,
            sampler=dict(type='InfiniteSampler', shuffle=True))
        loader_cfg.dataset.data_root = args.data
        loader = iter(Runner.build_dataloader(loader_cfg, seed=0))
        for _ in range(max(args.warmup, 1)):
            next(loader)
        start = time.perf_counter()
        for _ in range(args.steps):
            next(loader)
        rate = args.steps * args.batch_size / (time.perf_counter() - start)
        print(f'{workers:>8}{rate:>12.1f}')
        del loader


def mixed_images(count: int, seed: int = 0) -> List[Image.Image]:
    """``count`` random RGB PIL images of ``HF_IMAGE_SIZES`` in turn:
    smooth blobs, so that masks are not noise."""
    generator = np.random.default_rng(seed)
    images = []
    for i in range(count):
        height, width = HF_IMAGE_SIZES[i % len(HF_IMAGE_SIZES)]
        coarse = generator.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        images.append(
            Image.fromarray(coarse).resize((width, height), Image.BILINEAR))
    return images


def transformers_twin(model: TextPromptedSegmentor,
                      device: torch.device) -> torch.nn.Module:
    """transformers' ``CLIPSegForImageSegmentation`` with the weights of an
    mmvlsm ``CLIPSeg`` (CLIP's image projection and logit scale, which
    segmentation does not use, stay random)."""
    from transformers import CLIPSegForImageSegmentation
    twin = CLIPSegForImageSegmentation(model.hf_config)
    for name, module in (('vision_model', twin.clip.vision_model),
                         ('text_model', twin.clip.text_model),
                         ('text_projection', twin.clip.text_projection),
                         ('decoder', twin.decoder)):
        module.load_state_dict(getattr(model, name).state_dict())
    return twin.to(device).eval()


def transformers_path(twin: torch.nn.Module, processor: Callable,
                      tokenizer: Callable, images: List[Image.Image],
                      prompt: str, batch_size: int, threshold: float,
                      device: torch.device) -> List[torch.Tensor]:
    """Masks the way transformers' CLIPSeg documentation makes them."""
    masks = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        pixels = processor(images=chunk, return_tensors='pt').pixel_values
        tokens = tokenizer(
            [prompt] * len(chunk), padding=True, return_tensors='pt')
        with torch.inference_mode():
            logits = twin(
                pixel_values=pixels.to(device),
                input_ids=tokens['input_ids'].to(device),
                attention_mask=tokens['attention_mask'].to(device)).logits
            # transformers squeezes the batch dimension of a single image.
            probs = logits.reshape(len(chunk), 1, *logits.shape[-2:]).sigmoid()
            for prob, image in zip(probs, chunk):
                masks.append(
                    F.interpolate(
                        prob[None],
                        size=(image.height, image.width),
                        mode='bilinear')[0, 0] > threshold)
    return masks


def against_transformers(model: TextPromptedSegmentor, cfg: Config,
                         args: argparse.Namespace, size: int,
                         device: torch.device) -> None:
    """``inference_model`` against transformers' CLIPSeg path: images/s of
    each (median of alternating rounds), their ratio, and how many mask
    pixels agree."""
    from transformers import ViTImageProcessor
    if not hasattr(model, 'hf_config'):
        raise ValueError('--against-hf compares CLIPSeg configs with '
                         "transformers' CLIPSegForImageSegmentation; "
                         f'{args.config} builds a {type(model).__name__}')
    preprocessor = cfg.model.data_preprocessor
    processor = ViTImageProcessor(
        do_resize=True,
        size=dict(height=size, width=size),
        resample=Image.BILINEAR,
        image_mean=[value / 255 for value in preprocessor.mean],
        image_std=[value / 255 for value in preprocessor.std])
    twin = transformers_twin(model, device)
    model.cfg = cfg
    model.eval()
    images = mixed_images(args.images)
    prompt = PROMPTS[0]
    threshold = model.test_cfg.get('threshold', 0.5)

    autocast = autocast_fn(args, device)

    def theirs() -> List[torch.Tensor]:
        with autocast():
            return transformers_path(twin, processor, model.tokenizer, images,
                                     prompt, args.batch_size, threshold,
                                     device)

    def ours() -> List[torch.Tensor]:
        with autocast():
            results = inference_model(model, images, prompt, args.batch_size)
        return [result.pred_sem_seg.data[0].bool() for result in results]

    runs: Dict[str, List[float]] = dict(transformers=[], mmvlsm=[])
    masks = {}
    for _ in range(args.rounds):
        for name, path in (('transformers', theirs), ('mmvlsm', ours)):
            masks[name] = path()  # the warm-up, and the masks compared
            start = time.perf_counter()
            for _ in range(args.steps):
                path()
            synchronize(device)
            runs[name].append((time.perf_counter() - start) / args.steps)
    rates = {
        name: len(images) / statistics.median(seconds)
        for name, seconds in runs.items()
    }
    agree = sum((a == b).sum().item()
                for a, b in zip(masks['mmvlsm'], masks['transformers'])) / sum(
                    mask.numel() for mask in masks['mmvlsm'])
    sizes = ', '.join(f'{h}x{w}' for h, w in HF_IMAGE_SIZES)
    print(f'{len(images)} images ({sizes} in turn), batch {args.batch_size}, '
          f'prompt {prompt!r}, {args.steps} passes a round, median of '
          f'{args.rounds} rounds')
    print(f'{"path":<16}{"images/s":>10}')
    for name, rate in rates.items():
        print(f'{name:<16}{rate:>10.2f}')
    print(f'ratio mmvlsm / transformers: '
          f'{rates["mmvlsm"] / rates["transformers"]:.2f}')
    print(f'mask pixels that agree: {100 * agree:.3f} %')


def synthetic_ct(shape: Sequence[int]) -> sitk.Image:
    """A CT-like int16 volume in HU, spaced :data:`VOLUME_SPACING`.

    An elliptic body (fat around soft tissue) in air, holding a liver, a
    spleen, two kidneys, the aorta and the spine, which grow and shrink
    along z; Gaussian noise of 15 HU makes it compress as a scan does.

    Args:
        shape (Sequence[int]): The array's size (z, y, x).

    Returns:
        sitk.Image: The volume, its spacing set.
    """
    depth, rows, cols = shape
    rng = np.random.default_rng(0)
    y, x = np.ogrid[-1:1:rows * 1j, -1:1:cols * 1j]

    def ellipse(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
        return ((x - cx) / rx)**2 + ((y - cy) / ry)**2 <= 1

    # (centre x, centre y, radius x, radius y, HU): the spine first, so
    # that it stays in every slice.
    organs = ((-0.35, -0.05, 0.3, 0.25,
               60), (0.45, 0.05, 0.12, 0.15, 50), (-0.3, 0.3, 0.08, 0.12, 160),
              (0.3, 0.3, 0.08, 0.12, 160), (0.05, 0.2, 0.05, 0.05, 180))
    array = np.empty(shape, np.int16)
    for k in range(depth):
        grow = np.sin(np.pi * (k + 0.5) / depth)
        hu = np.full((rows, cols), -1000.0)
        hu[ellipse(0, 0, 0.85, 0.65)] = -100
        hu[ellipse(0, 0, 0.75, 0.55)] = 40
        hu[ellipse(0, 0.45, 0.1, 0.1)] = 700
        for cx, cy, rx, ry, value in organs:
            hu[ellipse(cx, cy, rx * grow, ry * grow)] = value
        array[k] = np.round(hu + rng.normal(0, 15, hu.shape))
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(reversed(VOLUME_SPACING)))
    return image


def volume_round(model: torch.nn.Module, path: str, mask_path: str,
                 prompt: object, args: argparse.Namespace,
                 device: torch.device) -> Dict[str, dict]:
    """One timed pass of a volume file through inference.

    Reading is :func:`read_volume`; windowing the resolve and ``to_uint8``
    of every axial slice, the calls ``segment_volume`` makes (and makes
    again inside the segmentation); segmentation :func:`inference_model`
    of the read image; writing :func:`write_volume` of the mask.

    Returns:
        dict: ``timed`` 's result for ``read``, ``window``, ``segment`` and
        ``write``.
    """
    out = {}
    window = parse_window(VOLUME_WINDOW)

    def apply_window() -> None:
        array = out['volume'].array
        resolved = window.resolve(array)
        layout = slice_layout(out['volume'].image.GetDirection(), 'axial')
        for one in layout.stack(array):
            np.ascontiguousarray(resolved.to_uint8(one))

    def segment() -> None:
        out['result'] = inference_model(
            model,
            out['volume'].image,
            prompt,
            args.batch_size,
            window=VOLUME_WINDOW)

    return dict(
        read=timed(lambda: out.update(volume=read_volume(path)), 1, 0, device),
        window=timed(apply_window, 1, 0, device),
        segment=timed(segment, 1, 0, device),
        write=timed(lambda: write_volume(out['result'].mask, mask_path), 1, 0,
                    device))


def time_volume(model: torch.nn.Module, cfg: Config, args: argparse.Namespace,
                device: torch.device) -> None:
    """Slices/s of a synthetic CT of ``--volume`` through reading,
    segmentation and writing, and each phase's share (medians over
    ``--rounds``), with the peak memory before and after."""
    model.cfg = cfg
    model.eval()
    prompt = 1 if prompted_by_class(model) else VOLUME_PROMPT
    before = timed(lambda: None, 1, 0, device)['peak']
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, f'ct.{args.volume_format}')
        write_volume(synthetic_ct(args.volume), path)
        file_mib = os.path.getsize(path) / 2**20
        if args.warmup:
            inference_model(
                model,
                read_volume(path).image[:, :, :args.batch_size],
                prompt,
                args.batch_size,
                window=VOLUME_WINDOW)
        for _ in range(args.rounds):
            runs.append(
                volume_round(model, path, osp.join(tmp, 'mask.nii.gz'), prompt,
                             args, device))
    slices = args.volume[0]
    seconds = {
        phase: statistics.median(run[phase]['seconds'] for run in runs)
        for phase in runs[0]
    }
    seconds['whole path'] = statistics.median(
        run['read']['seconds'] + run['segment']['seconds'] +
        run['write']['seconds'] for run in runs)
    spacing = ' x '.join(map(str, VOLUME_SPACING))
    print(f'volume {"x".join(map(str, args.volume))} int16 HU, {spacing} mm, '
          f'{file_mib:.1f} MiB as .{args.volume_format}; window '
          f'{VOLUME_WINDOW}, prompt {prompt!r}, batch {args.batch_size}')
    print(f'{"phase":<22}{"seconds":>9}{"slices/s":>10}{"share":>8}'
          f'   (median of {args.rounds} rounds)')
    labels = dict(
        read='read',
        window='window (in segment)',
        segment='segment',
        write='write mask')
    for phase, value in seconds.items():
        print(f'{labels.get(phase, phase):<22}{value:>9.3f}'
              f'{slices / value:>10.1f}'
              f'{100 * value / seconds["whole path"]:>7.1f}%')
    after = max(run[phase]['peak'] for run in runs for phase in run)
    print(f'peak mem (MiB): {before:.0f} with the model, {after:.0f} after '
          'the volume\'s rounds')


def print_profile(model: torch.nn.Module, cfg: Config,
                  args: argparse.Namespace, size: int,
                  device: torch.device) -> None:
    """Top operators (self time) of mmvlsm's train and test steps."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU]
    sort_by = 'self_cpu_time_total'
    if device.type == 'cuda':
        activities.append(ProfilerActivity.CUDA)
        sort_by = 'self_cuda_time_total'
    batch = synthetic_batch(
        pack_pipeline(cfg), args.batch_size, size, image_channels(cfg))
    optim_wrapper = build_optim_wrapper(model, amp_optim_cfg(cfg, args))
    model.train()

    def train_step() -> None:
        model.train_step(batch, optim_wrapper)

    def test_step() -> None:
        with torch.no_grad(), autocast_fn(args, device)():
            model.test_step(batch)

    for name, step in (('train step', train_step), ('test step', test_step)):
        if name == 'test step':
            model.eval()
        for _ in range(args.warmup):
            step()
        synchronize(device)
        with profile(activities=activities) as prof:
            for _ in range(args.steps):
                step()
            synchronize(device)
        print(f'{name}, {args.steps} steps:')
        print(prof.key_averages().table(sort_by=sort_by, row_limit=12))


def main() -> None:
    args = parse_args()

    cfg = load_config(args.config, args.cfg_options,
                      args.cfg_options_allow_new)
    init_default_scope(config_scope(cfg))
    size = args.img_size or input_size(cfg)
    device = torch.device(args.device)
    if args.amp is not None and device.type != 'cuda':
        raise ValueError(f'--amp needs a GPU: mmengine\'s AmpOptimWrapper '
                         f'does not run on {device}')
    if args.data and 'data_root' not in cfg.train_dataloader.dataset:
        raise ValueError(
            '--data replaces the data_root of the train dataset, but that '
            f'of {args.config} is a {cfg.train_dataloader.dataset["type"]} '
            'without one; use the config of a single dataset')
    print(f'config: {args.config}')
    print(
        f'device: {device} ('
        f'{torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}'  # noqa: E501
        f'), batch {args.batch_size} x {input_text(size)}, amp: {args.amp}, '
        f'torch {torch.__version__}, threads {torch.get_num_threads()}')
    if args.against:
        compare_models([(args.config, cfg)] + [(path, load_config(path))
                                               for path in args.against], args,
                       device)
        return
    if args.data:
        time_dataloader(cfg, args)
    model = build_model(cfg, device)
    if args.against_hf:
        against_transformers(model, cfg, args, size, device)
        return
    if args.volume:
        time_volume(model, cfg, args, device)
        return
    comparing = not (args.profile or args.batch_sizes)
    if comparing and not isinstance(model, TextPromptedSegmentor):
        raise ValueError(
            'the plain PyTorch comparison is written for text-prompted '
            f'segmentors; for the {type(model).__name__} of {args.config} '
            'use --against, --batch-sizes or --profile')
    if args.profile:
        print_profile(model, cfg, args, size, device)
    elif args.batch_sizes:
        rows = sweep(model, cfg, args, size, device)
        if args.plot:
            plot_sweep(rows, f'{cfg.model.type}, {input_text(size)}, {device}',
                       args.plot)
    else:
        compare(model, cfg, args, size, device)


if __name__ == '__main__':
    main()
