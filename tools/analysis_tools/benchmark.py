# Copyright (c) OpenMMLab. All rights reserved.
"""Measure a text-prompted segmentor's speed and memory.

Runs the model of CONFIG on one synthetic batch in two ways and prints both
and their ratio:

- **mmvlsm**: the path the Runner takes, ``model.train_step`` (data
  preprocessor, tokenisation, losses, ``OptimWrapper``) and
  ``model.test_step`` (postprocessing to the original size included);
- **plain PyTorch**: the same ``nn.Module`` driven by a hand-written loop,
  with the batch normalised and tokenised once, a plain ``torch.optim``
  optimizer and ``torch.autocast`` + ``GradScaler`` for ``--amp``.

Example::

    python tools/analysis_tools/benchmark.py \\
        configs/clipseg/clipseg-rd64-refined_1xb128_kvasir-polyp-352x352.py \\
        --batch-size 4 --amp
"""
import argparse
import gc
import resource
import time
from contextlib import nullcontext
from typing import Callable, Dict, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument(
        '--img-size',
        type=int,
        default=None,
        help='input side; default: the config\'s `img_scale`')
    parser.add_argument('--steps', type=int, default=20, help='timed steps')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument(
        '--amp', action='store_true', help='float16 mixed precision')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device to run on')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.pretrained=/path')
    return parser.parse_args()


def synthetic_batch(batch_size: int, size: int) -> dict:
    """A batch as the dataloader would give it: uint8 images, samples."""
    generator = torch.Generator().manual_seed(0)
    prompts = [
        'one medium yellow round polyp located in right of the image', 'polyp',
        'skin melanoma', 'foot ulcer'
    ]
    inputs, samples = [], []
    for i in range(batch_size):
        inputs.append(
            torch.randint(
                0,
                256, (3, size, size),
                generator=generator,
                dtype=torch.uint8))
        sample = SegDataSample(
            metainfo=dict(
                text=prompts[i % len(prompts)],
                img_shape=(size, size),
                ori_shape=(size, size)))
        mask = torch.rand(1, size, size, generator=generator) > 0.7
        sample.gt_sem_seg = PixelData(data=mask.long())
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def timed(fn: Callable[[], object], steps: int, warmup: int,
          device: torch.device) -> Dict[str, float]:
    """Seconds per call of ``fn`` and peak memory (MiB) over the run."""
    for _ in range(warmup):
        fn()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        # Peak resident memory of the whole process so far (Linux reports
        # KiB): on CPU the two columns are not comparable.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    return dict(seconds=(time.perf_counter() - start) / steps, peak=peak)


def release_training_memory(model: torch.nn.Module,
                            device: torch.device) -> None:
    """Free gradients and cached blocks between the measured phases."""
    model.zero_grad(set_to_none=True)
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()


def measure_mmvlsm(model: torch.nn.Module, batch: dict, optim_cfg: dict,
                   args: argparse.Namespace, autocast: Callable,
                   device: torch.device) -> Tuple[dict, dict]:
    """Time the Runner's path: ``train_step`` and ``test_step``."""
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    model.train()
    train = timed(lambda: model.train_step(batch, optim_wrapper), args.steps,
                  args.warmup, device)
    # Inference memory must not count the optimizer state and gradients.
    optim_wrapper.optimizer.state.clear()
    release_training_memory(model, device)
    model.eval()
    with torch.no_grad(), autocast():
        test = timed(lambda: model.test_step(batch), args.steps, args.warmup,
                     device)
    return train, test


def measure_plain(model: torch.nn.Module, batch: dict, optim_cfg: dict,
                  args: argparse.Namespace, autocast: Callable,
                  device: torch.device) -> Tuple[dict, dict]:
    """Time a hand-written loop over the same module.

    The batch is normalised, moved to the device and tokenised once, outside
    the timed loop.
    """
    data = model.data_preprocessor(batch, True)
    inputs, samples = data['inputs'], data['data_samples']
    gt = torch.stack([s.gt_sem_seg.data for s in samples]).float()
    input_ids, attention_mask = model.tokenize(samples, device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params,
        lr=optim_cfg.optimizer.get('lr', 1e-4),
        weight_decay=optim_cfg.optimizer.get('weight_decay', 0.0))
    scaler = torch.amp.GradScaler(device.type, enabled=args.amp)

    def forward() -> torch.Tensor:
        return model.decode(
            model.extract_feat(inputs),
            model.encode_text(input_ids, attention_mask))

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            logits = forward()
            prob = logits.float().sigmoid().flatten(1)
            target = gt.flatten(1)
            dice = 1 - (2 * (prob * target).sum(1) + 1e-5) / (
                prob.sum(1) + target.sum(1) + 1e-5)
            loss = F.binary_cross_entropy_with_logits(logits.float(),
                                                      gt) + dice.mean()
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, 0.5)
        scaler.step(optimizer)
        scaler.update()

    model.train()
    train = timed(train_step, args.steps, args.warmup, device)
    optimizer.state.clear()
    release_training_memory(model, device)
    model.eval()
    with torch.no_grad(), autocast():
        test = timed(lambda: forward().sigmoid() > 0.5, args.steps,
                     args.warmup, device)
    return train, test


def main() -> None:
    args = parse_args()
    import mmvlsm  # noqa: F401
    from mmvlsm.registry import MODELS

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmvlsm'))
    size = args.img_size or cfg.get('img_scale', (352, 352))[0]
    device = torch.device(args.device)
    model = MODELS.build(cfg.model).to(device)
    batch = synthetic_batch(args.batch_size, size)
    amp_dtype = torch.float16
    optim_cfg = cfg.optim_wrapper.copy()
    if args.amp:
        optim_cfg.update(
            type='AmpOptimWrapper', dtype=amp_dtype, loss_scale='dynamic')
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)
                ) if args.amp else nullcontext

    mm_train, mm_test = measure_mmvlsm(model, batch, optim_cfg, args, autocast,
                                       device)
    release_training_memory(model, device)
    plain_train, plain_test = measure_plain(model, batch, optim_cfg, args,
                                            autocast, device)

    print(f'config: {args.config}')
    print(
        f'device: {device} '
        f'({torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}), '  # noqa: E501
        f'batch {args.batch_size} x {size}x{size}, amp: {args.amp}, '
        f'torch {torch.__version__}')
    print(f'{"":<24}{"mmvlsm":>12}{"plain torch":>14}{"ratio":>8}')
    rows = [
        ('train step (ms)', mm_train['seconds'] * 1e3,
         plain_train['seconds'] * 1e3),
        ('inference (images/s)', args.batch_size / mm_test['seconds'],
         args.batch_size / plain_test['seconds']),
        ('train peak mem (MiB)', mm_train['peak'], plain_train['peak']),
        ('test peak mem (MiB)', mm_test['peak'], plain_test['peak']),
    ]
    for name, mm_value, plain_value in rows:
        print(f'{name:<24}{mm_value:>12.1f}{plain_value:>14.1f}'
              f'{mm_value / plain_value:>8.2f}')


if __name__ == '__main__':
    main()
