# Copyright (c) OpenMMLab. All rights reserved.
"""Segment a volume slice by slice, and give the masks its geometry.

Every slice along the chosen anatomical axis is windowed to 8-bit grey and
segmented as a 2D image by the same code as :func:`inference_model` (so a
slice of a volume and the same slice given as an image get the same mask,
bit for bit); the slice masks are written into a mask volume of the
input's exact size, spacing, origin and direction. Slices go through the
model ``batch_size`` at a time and only their masks (and, on request,
their probabilities in float16) are kept, so memory stays bounded for a
whole CT.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import SimpleITK as sitk
import torch
from mmseg.structures import SegDataSample
from tqdm import tqdm

from mmvlsm.datasets.volumes import (IntensityWindow, Volume, array_view,
                                     image_like, parse_window, slice_layout)

Prompt = Union[str, int]


@dataclass
class VolumeSegmentation:
    """The masks of one volume, with its geometry.

    Attributes:
        mask (sitk.Image): uint8 mask of the input's size and geometry: 0/1
            for one prompt, a label map 0..K for K prompts (label ``k`` is
            ``prompts[k - 1]``; a voxel two prompts claim gets the more
            probable one).
        prompts (list[str | int]): The prompts (classes for class-prompted
            models), in label order.
        names (list[str]): What each label is called in the legend.
        axis (str): The slicing axis.
        window (dict): The intensity rule and the value range used.
        source (str): What was segmented.
        probabilities (np.ndarray, optional): (K, *mask array shape)
            float16 probability of each prompt, when asked for.
    """

    mask: sitk.Image
    prompts: List[Prompt]
    names: List[str]
    axis: str
    window: dict
    source: str
    probabilities: Optional[np.ndarray] = None
    extra: Dict[str, object] = field(default_factory=dict)

    @property
    def mask_array(self) -> np.ndarray:
        """The mask as a (z, y, x) array (a read-only view)."""
        return array_view(self.mask)

    def legend(self) -> Dict[str, str]:
        """Label value -> name, ``'0'`` being the background."""
        legend = {'0': 'background'}
        legend.update({str(k): name for k, name in enumerate(self.names, 1)})
        return legend

    def probability_image(self, index: int) -> sitk.Image:
        """Prompt ``index``'s (0-based) probabilities as a float32 image
        with the mask's geometry."""
        if self.probabilities is None:
            raise ValueError('the probabilities were not kept: segment with '
                             'return_probs=True')
        return image_like(self.probabilities[index].astype(np.float32),
                          self.mask)


def foreground_probability(sample: SegDataSample) -> torch.Tensor:
    """(H, W) probability of the prompted object from a sample's logits:
    the sigmoid of one channel, or the softmax share of the second of two
    (background, class)."""
    logits = sample.seg_logits.data.float()
    if logits.shape[0] == 1:
        return logits[0].sigmoid()
    return logits.softmax(dim=0)[1]


def combine_prompts(masks: Sequence[np.ndarray],
                    probs: Sequence[np.ndarray]) -> np.ndarray:
    """One mask per prompt -> a label map (0 background, k for prompt k).

    A pixel foreground for several prompts gets the one of highest
    probability (the first on a tie); one prompt gives its 0/1 mask.

    Args:
        masks (Sequence[np.ndarray]): K binary masks of one shape.
        probs (Sequence[np.ndarray]): Their probabilities.

    Returns:
        np.ndarray: uint8 label map of that shape.
    """
    if len(masks) > 255:
        raise ValueError(f'{len(masks)} prompts do not fit a uint8 label map')
    if len(masks) == 1:
        return np.asarray(masks[0]).astype(np.uint8)
    claimed = np.where(
        np.stack(masks).astype(bool),
        np.stack(probs).astype(np.float32), -1.0)
    labels = claimed.argmax(axis=0).astype(np.uint8) + 1
    labels[claimed.max(axis=0) < 0] = 0
    return labels


def segment_volume(model: torch.nn.Module,
                   volume: Volume,
                   prompts: Sequence[Prompt],
                   segment_slices,
                   names: Optional[Sequence[str]] = None,
                   axis: str = 'axial',
                   window: Union[None, str, Sequence[float], dict,
                                 IntensityWindow] = None,
                   batch_size: int = 8,
                   return_probs: bool = False,
                   progress: bool = False) -> VolumeSegmentation:
    """Segment every slice of a volume along ``axis`` for each prompt.

    Args:
        model (nn.Module): A model from :func:`init_model`.
        volume (Volume): From :func:`read_volume`.
        prompts (Sequence[str | int]): One or more prompts (or classes).
        segment_slices (callable): ``(model, slices, prompt, batch_size) ->
            list[SegDataSample]``, the 2D path of :func:`inference_model`.
        names (Sequence[str], optional): The legend's name of each prompt.
            Defaults to the prompts themselves.
        axis (str): ``'axial'``, ``'coronal'`` or ``'sagittal'``. Defaults
            to 'axial'.
        window: The intensity rule (see :func:`parse_window`); None is the
            config's ``volume_window``, else the 0.5-99.5 % percentiles.
        batch_size (int): Slices per forward pass. Defaults to 8.
        return_probs (bool): Keep each prompt's probabilities (float16).
            Defaults to False.
        progress (bool): Show a progress bar over the slices. Defaults to
            False.

    Returns:
        VolumeSegmentation: The mask volume and what made it.
    """
    if not prompts:
        raise ValueError('segment_volume needs at least one prompt')
    cfg_window = getattr(model, 'cfg', {}).get('volume_window')
    rule = parse_window(window if window is not None else cfg_window)
    voxels = volume.array
    resolved = rule.resolve(voxels)
    if voxels.ndim == 2:  # a single-slice file
        voxels = voxels[None]
        axis_used = 'axial'
        stack_of = lambda a: a  # noqa: E731
    else:
        layout = slice_layout(volume.image.GetDirection(), axis)
        axis_used = layout.axis
        stack_of = layout.stack
    mask = np.zeros(voxels.shape, np.uint8)
    probs = (
        np.zeros((len(prompts), ) +
                 voxels.shape, np.float16) if return_probs else None)
    slices, mask_slices = stack_of(voxels), stack_of(mask)
    prob_slices = ([stack_of(p) for p in probs] if probs is not None else None)
    bar = tqdm(
        total=len(slices),
        unit='slice',
        desc=volume.source[-40:],
        leave=False,
        disable=not progress)
    for start in range(0, len(slices), batch_size):
        stop = min(start + batch_size, len(slices))
        batch = [
            np.ascontiguousarray(resolved.to_uint8(one))
            for one in slices[start:stop]
        ]
        per_prompt_masks, per_prompt_probs = [], []
        for k, prompt in enumerate(prompts):
            samples = segment_slices(model, batch, prompt, batch_size)
            per_prompt_masks.append(
                np.stack([
                    s.pred_sem_seg.data[0].cpu().numpy().astype(bool)
                    for s in samples
                ]))
            if len(prompts) > 1 or return_probs:  # else unused
                per_prompt_probs.append(
                    np.stack([
                        foreground_probability(s).cpu().numpy()
                        for s in samples
                    ]))
            if prob_slices is not None:
                prob_slices[k][start:stop] = per_prompt_probs[-1]
        mask_slices[start:stop] = combine_prompts(per_prompt_masks,
                                                  per_prompt_probs)
        bar.update(stop - start)
    bar.close()
    return VolumeSegmentation(
        mask=image_like(mask.reshape(volume.array.shape), volume.image),
        prompts=list(prompts),
        names=[str(p) for p in (names if names is not None else prompts)],
        axis=axis_used,
        window=resolved.record(),
        source=volume.source,
        probabilities=(probs.reshape((len(prompts), ) + volume.array.shape)
                       if probs is not None else None))


def model_dims(model: torch.nn.Module) -> int:
    """2 for models of 2D images (volumes go slice by slice), 3 for models
    of volumes (3D PUNet)."""
    return getattr(getattr(model, 'backbone', None), 'dims', 2)


def segment_volume_3d(model: torch.nn.Module,
                      volume: Volume,
                      prompts: Sequence[Prompt],
                      names: Optional[Sequence[str]] = None,
                      window: Union[None, str, Sequence[float], dict,
                                    IntensityWindow] = None,
                      return_probs: bool = False) -> VolumeSegmentation:
    """Segment a whole volume with a 3D model for each prompt (class).

    The volume is laid out as the 3D datasets lay out their training
    volumes (axial slices, depth last: (H, W, D), see
    :meth:`~mmvlsm.datasets.volumes.SliceLayout.depth_last`) and windowed
    to uint8 as they are; the model's ``predict`` covers it with sliding
    windows. The mask is written back in the input's own array order.

    Args:
        model (nn.Module): A 3D model from :func:`init_model`.
        volume (Volume): A 3D volume from :func:`read_volume`.
        prompts (Sequence[int]): One or more class indices.
        names (Sequence[str], optional): The legend's name of each prompt.
        window: The intensity rule; None is the config's ``volume_window``.
        return_probs (bool): Keep the probabilities (float16).

    Returns:
        VolumeSegmentation: The mask volume and what made it.
    """
    if volume.array.ndim != 3:
        raise ValueError(f'{volume.source}: a 3D model segments 3D volumes, '
                         f'got size {volume.image.GetSize()}')
    cfg_window = getattr(model, 'cfg', {}).get('volume_window')
    rule = parse_window(window if window is not None else cfg_window)
    layout = slice_layout(volume.image.GetDirection(), 'axial')
    values = layout.depth_last(volume.array)
    resolved = rule.resolve(values)
    inputs = torch.from_numpy(np.ascontiguousarray(
        resolved.to_uint8(values)))[None]  # (1, H, W, D)
    mask = np.zeros(volume.array.shape, np.uint8)
    probs = (
        np.zeros((len(prompts), ) +
                 volume.array.shape, np.float16) if return_probs else None)
    masks, class_probs = [], []
    for prompt in prompts:
        sample = SegDataSample(
            metainfo=dict(
                active_class=int(prompt),
                ori_shape=tuple(values.shape),
                img_shape=tuple(values.shape),
                spacing=layout.depth_last_spacing(volume.image.GetSpacing()),
                img_path=volume.source))
        with torch.no_grad():
            result = model.test_step(
                dict(inputs=[inputs], data_samples=[sample]))[0]
        masks.append(result.pred_sem_seg.data[0].cpu().numpy().astype(bool))
        if len(prompts) > 1 or return_probs:
            class_probs.append(
                result.seg_logits.data.float().softmax(0)[1].cpu().numpy())
    labels = combine_prompts(masks, class_probs)  # (H, W, D)
    layout.depth_last(mask)[...] = labels
    if probs is not None:
        for k, prob in enumerate(class_probs):
            layout.depth_last(probs[k])[...] = prob
    return VolumeSegmentation(
        mask=image_like(mask, volume.image),
        prompts=list(prompts),
        names=[str(p) for p in (names if names is not None else prompts)],
        axis='axial',
        window=resolved.record(),
        source=volume.source,
        probabilities=probs)
