# Copyright (c) OpenMMLab. All rights reserved.
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmseg.models.segmentors import BaseSegmentor
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor

from mmvlsm.registry import MODELS
from mmvlsm.structures import VolumeData
from ..adapters import (adapt_model, freeze_norm_statistics,
                        keep_trained_state, trained_state_keys)

# The student augmentations: in-plane flips (mmvlsm's; upstream PUNet has
# none), upstream's RandAffine (p 0.8, rotation 0.4 rad, scale +-25 %,
# shear 0.025; in-plane in 3D too, as upstream's ranges leave the depth
# axis alone), coarse dropout (p 0.1) and intensity shift (p 0.1).
STUDENT_AUGMENT = dict(
    flip=True,
    affine_prob=0.8,
    rotate=0.4,
    scale=0.25,
    shear=0.025,
    dropout_prob=0.1,
    intensity_prob=0.1)
# The teacher's view is augmented more weakly.
TEACHER_AUGMENT = dict(
    affine_prob=0.5, rotate=0.4, scale=0.1, shear=0.025, intensity_prob=0.1)


@MODELS.register_module()
class PUNet(BaseSegmentor):
    """PUNet: a prompt-able UNet segmenting the class its prompts name.

    Each sample names its active foreground class (``active_class`` in its
    metainfo, see :class:`~mmvlsm.datasets.MultiClassSliceDataset`); the
    encoder and decoder blocks prepend that class's prompt tokens to their
    attention windows and the head scores background against that class,
    so one batch may hold different classes and the target is binary (the
    inactive classes are background). The loss is PUNet's focal loss with a
    per-class alpha; with ``cpa_loss`` the contrastive prototype loss of an
    EMA teacher is added (phase 1), computed on student views cropped (and
    flipped) from the input on the device, whose pixel coordinates are
    carried along so that student and teacher pixels of the same place are
    paired.

    2D maps are (B, C, H, W), 3D ones (B, C, H, W, D), depth last as in
    upstream PUNet and MONAI; the same code handles both. In 3D the student
    crops, flips and warps are in-plane wherever upstream's are, and
    :meth:`predict` runs a sliding window over whole volumes.

    Phase 2 (adaptation) loads a phase-1 checkpoint and freezes it through
    ``adapt_cfg`` (see :func:`mmvlsm.models.adapters.adapt_model`), e.g.
    only the new class's prompts train for PUNet's ``prompting``; batch norms
    with nothing to train then stay in eval mode.

    Args:
        backbone (dict): The encoder (``PUNetEncoder``).
        decoder (dict): The decoder (``PUNetDecoder``).
        head (dict): The head (``SimilarityAggregationHead``).
        seg_loss (dict, optional): The segmentation loss, called as
            ``loss(logits, target, class_weight)``. Defaults to PUNet's
            ``FocalLoss`` (gamma 4). None trains without it (PUNet's
            ``self`` pre-training).
        alpha (Sequence[float]): Alpha of the background and of any active
            class. Defaults to (1.0, 1.0).
        additive_alpha (Sequence[float], optional): Added to the alpha of
            each active class, indexed by class (PUNet's inverse
            foreground ratios). Defaults to None (zeros).
        cpa_loss (dict, optional): The contrastive prototype loss
            (``ContrastivePrototypeLoss``). Building it builds the EMA
            teacher; a ``loss_weight`` of 0 keeps the teacher (so phase-1
            checkpoints load) but skips its forward and update, as PUNet's
            phase 2 does. Defaults to None.
        student_sizes (Sequence[tuple[int, ...]]): Crops (h, w) or
            (h, w, d) of the input seen by the students when ``cpa_loss``
            is on (upstream 2D: 224 and 160 from a 256 crop; ``3d_flat``:
            (112, 112, 4) and (80, 80, 4) from (128, 128, 4)). The first is
            also the default sliding-window roi in 3D. Defaults to
            ((224, 224), (160, 160)).
        student_augment (dict, optional): Augmentations of each student
            view after its crop, drawn per sample: ``flip`` (random
            horizontal and vertical flips, in-plane), ``affine_prob`` with
            ``rotate`` (radians), ``scale`` (relative, per axis) and
            ``shear`` (PUNet's in-plane ``RandAffine``, reflection
            padding; depth is neither rotated, scaled nor sheared),
            ``dropout_prob`` (1-3 holes of 5-20 px per axis, clipped to the
            view, filled with noise) and ``intensity_prob`` (a shift by up
            to 0.25 of the view's standard deviation). The coordinates
            follow the flips and the affine warp. Defaults to PUNet's
            student values; None: crops only.
        teacher_augment (dict, optional): The same for the teacher's view
            of the whole input. Defaults to PUNet's weaker teacher values
            (affine p 0.5, scale +-10 %, intensity p 0.1).
        momentum (float): EMA momentum of the teacher, ``teacher = tau *
            teacher + (1 - tau) * student`` before every step. Defaults to
            0.99.
        upstream (bool): Upstream PUNet (marcdcfischer/PUNet at 72365e1)
            exactly: sets ``upstream=True`` in the encoder's and decoder's
            PSWin blocks (see :class:`~mmvlsm.models.utils.pswin.
            PSWinBlock`), ``similarity='upstream'`` in the head and
            ``jitter_students=True`` in the CPA loss, unless the configs
            set them, and adds ``additive_alpha[0]`` to the background's
            alpha. Defaults to False (the corrected forms).
        background_additive_alpha (bool, optional): Add ``additive_alpha[0]``
            to the background's alpha, as upstream does. Defaults to None
            (``upstream``).
        adapt_cfg (dict, optional): Phase-2 freezing, see above.
        data_preprocessor (dict, optional): ``SegDataPreProcessor`` config.
        train_cfg (dict, optional): Unused but kept for mmseg.
        test_cfg (dict, optional): 3D inference: arguments of MONAI's
            ``sliding_window_inference``: ``roi_size`` (defaults to the
            first student size, as upstream's validation), ``overlap``
            (defaults to 0.5, upstream's), ``sw_batch_size`` (defaults to
            1), ``mode`` (blending, defaults to MONAI's and upstream's
            ``'constant'``), ``device``, ... Unused in 2D.
        init_cfg (dict, optional): Initialisation config.
    """

    # Prompted by a class (``active_class``), not by text: the inference
    # API and tools take a class name or index.
    prompt_kind = 'class'

    def __init__(self,
                 backbone: ConfigType,
                 decoder: ConfigType,
                 head: ConfigType,
                 seg_loss: OptConfigType = dict(type='FocalLoss', gamma=4.0),
                 alpha: Sequence[float] = (1.0, 1.0),
                 additive_alpha: Optional[Sequence[float]] = None,
                 cpa_loss: OptConfigType = None,
                 student_sizes: Sequence[Tuple[int, int]] = ((224, 224),
                                                             (160, 160)),
                 student_augment: Optional[dict] = STUDENT_AUGMENT,
                 teacher_augment: Optional[dict] = TEACHER_AUGMENT,
                 momentum: float = 0.99,
                 upstream: bool = False,
                 background_additive_alpha: Optional[bool] = None,
                 adapt_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if upstream:
            backbone, decoder = (
                _with_default(cfg, upstream=True)
                for cfg in (backbone, decoder))
            head = _with_default(head, similarity='upstream')
            if cpa_loss:
                cpa_loss = _with_default(cpa_loss, jitter_students=True)
        self.background_additive_alpha = (
            upstream if background_additive_alpha is None else
            background_additive_alpha)
        self.backbone = MODELS.build(backbone)
        self.decoder = MODELS.build(decoder)
        self.head = MODELS.build(head)
        if not seg_loss and not cpa_loss:
            raise ValueError('PUNet needs seg_loss, cpa_loss or both.')
        self.seg_loss = MODELS.build(seg_loss) if seg_loss else None
        self.alpha = tuple(alpha)
        self.register_buffer(
            'additive_alpha',
            torch.tensor(additive_alpha or [0.0], dtype=torch.float32),
            persistent=False)
        self.cpa_loss = MODELS.build(cpa_loss) if cpa_loss else None
        self.student_sizes = [tuple(size) for size in student_sizes]
        self.student_augment = dict(student_augment or {})
        self.teacher_augment = dict(teacher_augment or {})
        self.momentum = momentum
        if self.cpa_loss is not None:
            # The EMA teacher: encoder and decoder, never trained directly.
            self.teacher = nn.ModuleDict(
                dict(
                    backbone=copy.deepcopy(self.backbone),
                    decoder=copy.deepcopy(self.decoder)))
            self.teacher.requires_grad_(False)
        # mmseg's postprocess_result resizes with it (the head upsamples
        # with align_corners=False too).
        self.align_corners = False
        self.train_cfg = train_cfg or {}
        self.test_cfg = test_cfg or {}
        self.adapt_cfg = adapt_cfg
        if adapt_cfg is not None:
            self.adapters = adapt_model(self, adapt_cfg)
            keep_trained_state(self, trained_state_keys(self))

    def train(self, mode: bool = True) -> 'PUNet':
        """Set the training mode; in an adapted (phase-2) model, batch norms
        with nothing to train stay in eval mode, so the pre-trained
        statistics stay (PUNet kept updating them)."""
        super().train(mode)
        if mode and self.adapt_cfg is not None:
            freeze_norm_statistics(self)
        return self

    def active_classes(self, metainfos: Sequence[dict], device) -> Tensor:
        """(B, 1) active foreground class of every sample, from its
        metainfo, checked against the prompt pools."""
        try:
            classes = [int(meta['active_class']) for meta in metainfos]
        except KeyError as error:
            raise KeyError(
                'PUNet needs `active_class` in every data sample\'s metainfo '
                '(pack it: PackVLSMInputs/PackSegInputs meta_keys)') from error
        pool = len(self.backbone.levels[0].pswin.pools[0].prompts)
        outside = sorted({c for c in classes if not 0 < c < pool})
        if outside:
            raise ValueError(
                f'active_class {outside} outside the prompt pools, which hold '
                f'classes 1..{pool - 1} (0 is the background): raise the '
                'blocks\' and the head\'s num_classes')
        return torch.tensor(classes, device=device)[:, None]

    def embed(self, inputs: Tensor, classes: Tensor) -> Tensor:
        """The decoder's dense embedding (B, C, H/2, W/2[, D]) of the
        student network (half in-plane resolution, full depth)."""
        return self.decoder(self.backbone(inputs, classes), classes)

    def segment(self, inputs: Tensor, classes: Tensor) -> Tensor:
        """Logits (B, 2, H, W[, D]) of background and each sample's class.

        Args:
            inputs (Tensor): (B, C, H, W) normalised images or
                (B, C, H, W, D) volumes.
            classes (Tensor): (B, 1) active classes.
        """
        head_classes = torch.cat([torch.zeros_like(classes), classes], dim=1)
        return self.head(self.embed(inputs, classes), head_classes)

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        raise NotImplementedError(
            'PUNet needs each sample\'s active class: use embed() or '
            'segment()')

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        return self.segment(
            inputs, self.active_classes(batch_img_metas, inputs.device))

    def _class_weight(self, classes: Tensor) -> Tensor:
        """(B, 2) focal-loss alpha of background and the active class."""
        # Classes beyond additive_alpha get no extra weight.
        extra = nn.functional.pad(
            self.additive_alpha,
            (0, max(0,
                    int(classes.max()) + 1 - len(self.additive_alpha))))
        fg = self.alpha[1] + extra[classes[:, 0]]
        bg = torch.full_like(fg, self.alpha[0])
        if self.background_additive_alpha:
            bg = bg + extra[0]
        return torch.stack([bg, fg], dim=1)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Focal loss on the (student) views, plus CPA with ``cpa_loss``."""
        classes = self.active_classes([s.metainfo for s in data_samples],
                                      inputs.device)
        target = torch.stack([s.gt_sem_seg.data[0]
                              for s in data_samples]).long()
        use_cpa = self.cpa_loss is not None and self.cpa_loss.loss_weight > 0
        if not use_cpa:
            views = [(inputs, target, None)]
        else:
            self._update_teacher()
            views = self._student_views(inputs, target)
        losses: Dict[str, Tensor] = {}
        embeddings = []
        for index, (image, mask, _) in enumerate(views):
            embedding = self.embed(image, classes)
            embeddings.append(embedding)
            if self.seg_loss is not None:
                head_classes = torch.cat([torch.zeros_like(classes), classes],
                                         dim=1)
                logits = self.head(embedding, head_classes)
                suffix = f'_s{index}' if use_cpa else ''
                losses[f'{self.seg_loss.loss_name}{suffix}'] = self.seg_loss(
                    logits, mask, self._class_weight(classes))
        if use_cpa:
            with torch.no_grad():
                view, _, teacher_coords = self._augment(
                    inputs, target, _pixel_grid(inputs), self.teacher_augment)
                teacher = self.teacher['decoder'](self.teacher['backbone'](
                    view, classes), classes)
            coords = [_embedding_coords(coord) for _, _, coord in views]
            for index, value in enumerate(
                    self.cpa_loss(embeddings, coords, teacher,
                                  _embedding_coords(teacher_coords))):
                losses[f'{self.cpa_loss.loss_name}_s{index}'] = value
        return losses

    @torch.no_grad()
    def _update_teacher(self) -> None:
        """EMA of the student's parameters (not its buffers: the teacher's
        batch-norm statistics follow its own forwards, as in PUNet)."""
        for part in ('backbone', 'decoder'):
            student = dict(getattr(self, part).named_parameters())
            for name, param in self.teacher[part].named_parameters():
                param.lerp_(student[name].detach(), 1 - self.momentum)

    def _student_views(self, inputs: Tensor,
                       target: Tensor) -> List[Tuple[Tensor, Tensor, Tensor]]:
        """Augmented crops of the batch with their coordinates.

        Each student crops the batch at even in-plane offsets (so that,
        before any warp, its half-resolution embedding pixels fall on the
        teacher's; depth keeps full resolution, so any depth offset does),
        then applies ``student_augment``.

        Args:
            inputs (Tensor): (B, C, H, W) or (B, C, H, W, D) images.
            target (Tensor): (B, H, W) or (B, H, W, D) binary targets.

        Returns:
            list[tuple[Tensor, Tensor, Tensor]]: Per student, images
            (B, C, *size), targets (B, *size) and input-pixel coordinates
            (B, n, *size) (n = 2 or 3: (y, x[, z])) of every pixel in the
            frame of ``inputs``; ``size`` is the student size, clipped to
            the input.
        """
        spatial = inputs.shape[2:]
        grid = _pixel_grid(inputs)
        views = []
        for size in self.student_sizes:
            if len(size) != len(spatial):
                raise ValueError(
                    f'student size {size} does not fit inputs of spatial '
                    f'shape {tuple(spatial)}: give (h, w) in 2D, (h, w, d) '
                    'in 3D')
            crop = []
            for axis, (full, side) in enumerate(zip(spatial, size)):
                side = min(side, full)
                step = 2 if axis < 2 else 1
                start = step * int(
                    torch.randint(0, (full - side) // step + 1, ()))
                crop.append(slice(start, start + side))
            index = (Ellipsis, *crop)
            views.append(
                self._augment(inputs[index], target[index], grid[index],
                              self.student_augment))
        return views

    @staticmethod
    def _augment(image: Tensor, mask: Tensor, coord: Tensor,
                 aug: dict) -> Tuple[Tensor, Tensor, Tensor]:
        """Augment one view per sample (see ``student_augment``).

        Args:
            image (Tensor): (B, C, H, W[, D]) images.
            mask (Tensor): (B, H, W[, D]) targets.
            coord (Tensor): (B, n, H, W[, D]) their coordinates.
            aug (dict): The augmentations.

        Returns:
            tuple[Tensor, Tensor, Tensor]: The three, augmented alike.
        """
        b, spatial_dims = image.shape[0], image.dim() - 2
        # Broadcasts a per-sample value over channels and space.
        per_sample = (b, ) + (1, ) * (image.dim() - 1)
        if aug.get('flip'):
            # In-plane only (W, then H; counted from the end, as the mask
            # has no channel axis), like the warp: slices are not mirrored.
            for dim in (1 - spatial_dims, -spatial_dims):
                flip = torch.rand(b, device=image.device) < 0.5
                image, mask, coord = (
                    torch.where(
                        flip.view(-1, *[1] * (t.dim() - 1)), t.flip(dim), t)
                    for t in (image, mask, coord))
        if aug.get('affine_prob', 0) > 0:
            image, mask, coord = _random_affine(image, mask, coord, aug)
        if aug.get('dropout_prob', 0) > 0:
            image = _coarse_dropout(image, aug['dropout_prob'])
        if aug.get('intensity_prob', 0) > 0:
            shift = torch.rand(per_sample, device=image.device) * 0.25
            apply = torch.rand(
                per_sample, device=image.device) < aug['intensity_prob']
            std = image.flatten(1).std(dim=1).view(per_sample)
            image = torch.where(apply, image + shift * std, image)
        return image, mask, coord

    def predict(self,
                inputs: Tensor,
                data_samples: OptConfigType = None) -> SampleList:
        """Binary masks of each sample's active class (argmax of background
        and class).

        Slices (B, C, H, W) are segmented whole and resized to their
        original size (mmseg's ``postprocess_result``). Volumes
        (B, C, H, W, D) are segmented by :meth:`slide_inference` and kept
        at the input's size.

        Returns:
            list[SegDataSample]: ``data_samples`` with ``seg_logits``
            (2, H, W[, D]) and ``pred_sem_seg`` (1, H, W[, D]), as
            ``PixelData`` in 2D and ``VolumeData`` in 3D.
        """
        batch_img_metas = [s.metainfo for s in data_samples]
        if inputs.dim() == 4:
            logits = self.encode_decode(inputs, batch_img_metas)
            return self.postprocess_result(logits, data_samples)
        logits = self.slide_inference(
            inputs, self.active_classes(batch_img_metas, inputs.device))
        for sample, sample_logits in zip(data_samples, logits):
            sample.set_data(
                dict(
                    seg_logits=VolumeData(data=sample_logits),
                    pred_sem_seg=VolumeData(
                        data=sample_logits.argmax(dim=0, keepdim=True))))
        return data_samples

    def slide_inference(self, inputs: Tensor, classes: Tensor) -> Tensor:
        """Logits of whole volumes by MONAI's sliding window (``test_cfg``).

        Each sample slides on its own, so that every window is prompted by
        its sample's class; MONAI accumulates the windows into one output
        (and one count map) per volume, so the logits of a volume are held
        once, not per window.

        Args:
            inputs (Tensor): (B, C, H, W, D) normalised volumes.
            classes (Tensor): (B, 1) active classes.

        Returns:
            Tensor: Logits (B, 2, H, W, D) of background and each sample's
            class (on ``test_cfg['device']`` if given).
        """
        try:
            from monai.inferers import sliding_window_inference
        except ImportError as error:  # MONAI is only needed here.
            raise ImportError(
                'PUNet\'s 3D inference needs MONAI: pip install monai'
            ) from error
        cfg = dict(self.test_cfg)
        roi_size = tuple(cfg.pop('roi_size', self.student_sizes[0]))
        if len(roi_size) != 3:
            raise ValueError(
                f'roi_size {roi_size} is not 3D: set test_cfg.roi_size or '
                '3D student_sizes')
        cfg.setdefault('overlap', 0.5)
        cfg.setdefault('sw_batch_size', 1)
        outs = []
        for volume, sample_classes in zip(inputs, classes):

            def predictor(windows: Tensor, c: Tensor = sample_classes):
                return self.segment(windows, c.expand(len(windows), -1))

            outs.append(
                sliding_window_inference(
                    volume[None], roi_size, **cfg, predictor=predictor))
        return torch.cat(outs)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptConfigType = None) -> Tensor:
        classes = self.active_classes([s.metainfo for s in data_samples],
                                      inputs.device)
        return self.segment(inputs, classes)


def _with_default(cfg: dict, **defaults) -> dict:
    """``cfg`` with ``defaults`` for the keys it does not set."""
    return dict(defaults, **cfg)


def _random_affine(image: Tensor, mask: Tensor, coord: Tensor,
                   aug: dict) -> Tuple[Tensor, Tensor, Tensor]:
    """Warp each sample (with probability ``affine_prob``) about the view's
    centre, as MONAI's ``RandAffine`` in upstream PUNet: ``R @ Sh @ S``, a
    rotation, two shears and per-axis scales, all in-plane (upstream's
    ranges are zero for the depth axis, whose voxels stay where they are).

    Images and coordinates are sampled (bi/tri)linearly, masks by nearest
    neighbour, all with reflection padding, so every pixel keeps the
    coordinates of the place it shows.

    Args:
        image (Tensor): (B, C, H, W[, D]) images.
        mask (Tensor): (B, H, W[, D]) targets.
        coord (Tensor): (B, n, H, W[, D]) coordinates.
        aug (dict): ``affine_prob``, ``rotate``, ``scale``, ``shear``.

    Returns:
        tuple[Tensor, Tensor, Tensor]: The three, warped alike.
    """
    b = image.shape[0]
    spatial = image.shape[2:]
    n = len(spatial)
    device = image.device

    def uniform(limit: float) -> Tensor:
        return (torch.rand(b, device=device) * 2 - 1) * limit

    angle = uniform(aug.get('rotate', 0.0))
    scale_y = 1 + uniform(aug.get('scale', 0.0))
    scale_x = 1 + uniform(aug.get('scale', 0.0))
    shear_yx = uniform(aug.get('shear', 0.0))
    shear_xy = uniform(aug.get('shear', 0.0))
    cos, sin = angle.cos(), angle.sin()
    one = torch.ones_like(cos)

    def matrix(rows: List[List[Tensor]]) -> Tensor:
        return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=1)

    # Output voxel offset (y, x) from the centre -> input voxel offset.
    in_plane = (
        matrix([[cos, -sin], [sin, cos]]) @ matrix(
            [[one, shear_yx], [shear_xy, one]]) @ matrix([[scale_y, 0 * one],
                                                          [0 * one, scale_x]]))
    keep = torch.rand(b, device=device) >= aug['affine_prob']
    in_plane = torch.where(keep[:, None, None],
                           torch.eye(2, device=device).expand(b, 2, 2),
                           in_plane)
    full = torch.eye(n, device=device).repeat(b, 1, 1)
    full[:, :2, :2] = in_plane
    # In affine_grid's normalised coordinates, S^-1 M S with S the half
    # sizes; its axes run from the last dimension (x, y[, z] = D, W, H in
    # 3D), hence the flips.
    half = torch.tensor([size / 2 for size in spatial], device=device)
    normalised = full * half[None, None, :] / half[None, :, None]
    theta = torch.cat(
        [normalised.flip(1, 2),
         torch.zeros(b, n, 1, device=device)], dim=2)
    grid = nn.functional.affine_grid(
        theta, (b, 1, *spatial), align_corners=False).to(image.dtype)

    def warp(t: Tensor, mode: str) -> Tensor:
        return nn.functional.grid_sample(
            t,
            grid.to(t.dtype),
            mode=mode,
            padding_mode='reflection',
            align_corners=False)

    return (warp(image, 'bilinear'), warp(mask[:, None].float(),
                                          'nearest')[:, 0].long(),
            warp(coord, 'bilinear'))


def _coarse_dropout(image: Tensor, prob: float) -> Tensor:
    """Fill 1-3 holes with noise in a ``prob`` share of the samples (PUNet's
    coarse dropout of student views).

    As MONAI's ``RandCoarseDropout`` (``spatial_size=5``,
    ``max_spatial_size=20``), every side of a hole is drawn in 5-20 pixels
    on its own and clipped to the view: in a thin 3D patch the holes span
    its depth.

    Args:
        image (Tensor): (B, C, H, W[, D]) images.
        prob (float): Share of the samples with holes.

    Returns:
        Tensor: A copy with the holes.
    """
    b, spatial = image.shape[0], image.shape[2:]
    out = image.clone()
    low, high = float(image.min()), float(image.max())
    for i in range(b):
        if float(torch.rand(())) >= prob:
            continue
        for _ in range(int(torch.randint(1, 4, ()))):
            hole = [i, slice(None)]
            for full in spatial:
                side = min(int(torch.randint(5, 21, ())), full)
                start = int(torch.randint(0, full - side + 1, ()))
                hole.append(slice(start, start + side))
            out[tuple(hole)].uniform_(low, high)
    return out


def _pixel_grid(inputs: Tensor) -> Tensor:
    """(B, n, H, W[, D]) (y, x[, z]) voxel index of every input pixel
    (upstream's coordinate grids are voxel indices too, not mm)."""
    b, spatial = inputs.shape[0], inputs.shape[2:]
    axes = [
        torch.arange(size, device=inputs.device, dtype=torch.float32)
        for size in spatial
    ]
    grid = torch.stack(torch.meshgrid(*axes, indexing='ij'))
    return grid[None].expand(b, *grid.shape)


def _embedding_coords(coords: Tensor) -> Tensor:
    """Input-pixel coordinates (B, n, h, w[, d]) of the embedding, at half
    in-plane resolution and full depth: the mean of each 2 x 2 (x 1) block
    (its centre)."""
    if coords.dim() == 4:
        return nn.functional.avg_pool2d(coords, 2, ceil_mode=True)
    return nn.functional.avg_pool3d(coords, (2, 2, 1), ceil_mode=True)
