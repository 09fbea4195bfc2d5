# Copyright (c) OpenMMLab. All rights reserved.
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvlsm.registry import MODELS


def reduced_size(size: Sequence[int], factor: float) -> Tuple[int, ...]:
    """Size of a grid reduced by ``factor``, as PUNet computes it.

    Upstream PUNet reduces every axis, depth included (a depth of 4 with
    factor 2 becomes 2, with factor 8 becomes 1).

    Args:
        size (Sequence[int]): (h, w) or (h, w, d) of the full grid.
        factor (float): Reduction factor.

    Returns:
        tuple[int, ...]: ``max(floor(s / factor), 1)`` for each side.
    """
    return tuple(max(int(s // factor), 1) for s in size)


def resample(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Resample a map on a regular grid of ``size`` covering the same extent.

    (Bi/tri)linear ``grid_sample`` of an identity affine grid (reflection
    padding, ``align_corners=False``), as PUNet does for embeddings and
    coordinates: every output pixel takes the value at the position of its
    centre. This is exact for coordinate maps, which are affine in the
    pixel position.

    Args:
        x (Tensor): Maps of shape (B, C, H, W) or (B, C, H, W, D).
        size (Sequence[int]): Output (h, w) or (h, w, d).

    Returns:
        Tensor: Maps of shape (B, C, *size).
    """
    dims = len(size)
    theta = torch.eye(
        dims, dims + 1, dtype=x.dtype, device=x.device).unsqueeze(0)
    grid = F.affine_grid(theta, [1, 1, *size], align_corners=False)
    return F.grid_sample(
        x,
        grid.expand(x.shape[0], *grid.shape[1:]),
        mode='bilinear',
        padding_mode='reflection',
        align_corners=False)


def flatten_pixels(x: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w[, d]) -> (B, h * w[ * d], C)."""
    return x.flatten(2).transpose(1, 2)


@MODELS.register_module()
class ContrastivePrototypeLoss(nn.Module):
    """Contrastive Prototype Assignment (CPA) loss of PUNet.

    A self-supervised loss between student and teacher embeddings (in PUNet
    the decoder output, at half the input's in-plane resolution, of
    students and an EMA teacher that see differently augmented crops of one
    slice or 3D patch).

    Embeddings are (B, C, h, w) or (B, C, h, w, d) with (y, x) or
    (y, x, z) coordinates; the grids below reduce every axis, depth
    included, as upstream PUNet does. Distances are in input voxels, their
    depth component multiplied by ``depth_scale`` (upstream's ``scale_z``).

    1. Prototype seeds: the teacher embedding resampled on a grid reduced by
       ``reduction_factor_protos`` (see :meth:`prototype_grid_size`), with
       their coordinates. Prototypes are per image: no cross-image
       negatives.
    2. Every embedding and its coordinates is resampled on a grid reduced by
       ``reduction_factor`` (see :meth:`loss_grid_size`), to keep the
       pairwise terms affordable. With ``jitter_students`` a student is
       cropped by 0 to ``ceil(reduction_factor) - 1`` pixels per in-plane
       border first (never in depth, as upstream).
    3. ``k_means_iterations`` of soft k-means on the teacher pixels F^t_n:
       ``A = softmax_p(cos(F^t_n, C_p) / temperature_teacher)``, times the
       spatial weight ``G = exp(-d^2 / (2 sigma^2))`` (``d`` the distance
       between the coordinates of the pixel and of the prototype,
       ``sigma = fwhm_protos / 2.355``) if ``use_weighting_protos``. Each
       prototype becomes the L2-normalised ``sum_n A G F^t_n / sum_n A G``
       of the raw teacher embeddings, and its coordinates the same weighted
       mean of the pixel coordinates.
    4. Teacher targets ``Q^t = softmax_p(cos(F^t, C_p) / temperature_teacher)``
       (times ``G``, without renormalisation, if ``use_weighting_teacher``);
       student predictions ``Q^s = softmax_p(cos(F^s, C_p) /
       temperature_student)``.
    5. Each student pixel is paired with the teacher pixel closest in
       coordinates and kept only if their distance is <= ``max_distance``.
       The loss of a pixel is ``-sum_p Q^t * clamp(log(Q^s + 1e-16), -1e3,
       0)``; it is averaged over the kept pixels of an image, then over the
       images with at least one kept pixel.

    The teacher side runs without gradients. The loss is computed in float32
    even under AMP autocast, as the temperatures sharpen half-precision
    rounding of the cosine similarities.

    Args:
        loss_weight (float): Weight of every student's loss. Defaults to
            1e-2 (PUNet's phase 1).
        k_means_iterations (int): Soft k-means iterations; 0 keeps the
            seeds as prototypes. Defaults to 3.
        reduction_factor (float): Grid reduction of all embeddings for the
            loss. Defaults to 2.0.
        reduction_factor_protos (float): Grid reduction of the teacher
            embedding for the prototype seeds. Defaults to 8.0.
        temperature_teacher (float): Temperature of the assignments and
            teacher targets. Defaults to 0.033.
        temperature_student (float): Temperature of the student
            predictions. Defaults to 0.066.
        fwhm_protos (float): Full width at half maximum of the spatial
            weight, in coordinate units (input pixels). Defaults to 128.0.
        use_weighting_protos (bool): Weight the k-means assignments
            spatially. Defaults to True.
        use_weighting_teacher (bool): Weight the teacher targets spatially.
            Defaults to False.
        max_distance (float): Largest distance, in coordinate units, between
            a student pixel and its closest teacher pixel for the pair to
            count. Defaults to 4.0.
        jitter_students (bool): Crop 0 to ``ceil(reduction_factor) - 1``
            pixels off each in-plane border of every student embedding (one
            draw per student and batch) before resampling it on the grid of
            the uncropped size, i.e. jitter its loss grid, as PUNet does.
            Off by default, which keeps the loss deterministic. Defaults to
            False.
        depth_scale (float): Factor of the depth (third) coordinate
            difference in every distance (the spatial weight and the
            pairing), so that slices count as farther apart than in-plane
            pixels (upstream's ``scale_z``). No effect in 2D. Defaults to
            2.0.
        loss_name (str): Key prefix of the losses in the loss dict; it must
            contain ``'loss'`` to be back-propagated. Defaults to
            ``'loss_cpa'``.
    """

    def __init__(self,
                 loss_weight: float = 1e-2,
                 k_means_iterations: int = 3,
                 reduction_factor: float = 2.0,
                 reduction_factor_protos: float = 8.0,
                 temperature_teacher: float = 0.033,
                 temperature_student: float = 0.066,
                 fwhm_protos: float = 128.0,
                 use_weighting_protos: bool = True,
                 use_weighting_teacher: bool = False,
                 max_distance: float = 4.0,
                 jitter_students: bool = False,
                 depth_scale: float = 2.0,
                 loss_name: str = 'loss_cpa'):
        super().__init__()
        self.loss_weight = loss_weight
        self.k_means_iterations = k_means_iterations
        self.reduction_factor = reduction_factor
        self.reduction_factor_protos = reduction_factor_protos
        self.temperature_teacher = temperature_teacher
        self.temperature_student = temperature_student
        self.fwhm_protos = fwhm_protos
        self.use_weighting_protos = use_weighting_protos
        self.use_weighting_teacher = use_weighting_teacher
        self.max_distance = max_distance
        self.jitter_students = jitter_students
        self.depth_scale = depth_scale
        self._loss_name = loss_name

    def prototype_grid_size(self, size: Sequence[int]) -> Tuple[int, ...]:
        """Grid of prototype seeds for a teacher embedding of ``size``.

        Args:
            size (Sequence[int]): (h, w[, d]) of the teacher embedding.

        Returns:
            tuple[int, ...]: (h', w'[, d']); there are h' * w'[ * d']
            prototypes per image.
        """
        return reduced_size(size, self.reduction_factor_protos)

    def loss_grid_size(self, size: Sequence[int]) -> Tuple[int, ...]:
        """Grid an embedding of ``size`` is resampled on for the loss.

        Args:
            size (Sequence[int]): (h, w[, d]) of the embedding.

        Returns:
            tuple[int, ...]: (h', w'[, d']).
        """
        return reduced_size(size, self.reduction_factor)

    def distance(self, coords: torch.Tensor,
                 other: torch.Tensor) -> torch.Tensor:
        """Pairwise distances of coordinates, depth scaled by
        ``depth_scale``.

        Args:
            coords (Tensor): Coordinates of shape (B, N, n), n = 2 or 3.
            other (Tensor): Coordinates of shape (B, M, n).

        Returns:
            Tensor: Distances of shape (B, N, M).
        """
        if coords.shape[-1] == 3 and self.depth_scale != 1:
            scale = coords.new_tensor([1., 1., self.depth_scale])
            coords, other = coords * scale, other * scale
        return torch.cdist(
            coords, other, compute_mode='donot_use_mm_for_euclid_dist')

    def spatial_weight(self, coords: torch.Tensor,
                       proto_coords: torch.Tensor) -> torch.Tensor:
        """Gaussian weight of the distance between pixels and prototypes.

        Args:
            coords (Tensor): Pixel coordinates of shape (B, N, n).
            proto_coords (Tensor): Prototype coordinates of shape (B, P, n).

        Returns:
            Tensor: ``exp(-d^2 / (2 sigma^2))`` of shape (B, N, P), ``d``
            from :meth:`distance`.
        """
        sigma = self.fwhm_protos / 2.355
        dist = self.distance(coords, proto_coords)
        return torch.exp(-dist**2 / (2 * sigma**2))

    @torch.no_grad()
    def compute_prototypes(
            self, teacher_embedding: torch.Tensor,
            teacher_coords: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Seed and refine the prototypes of every image.

        Args:
            teacher_embedding (Tensor): Teacher embedding of shape
                (B, C, h, w[, d]).
            teacher_coords (Tensor): Its coordinates, (B, n, h, w[, d]).

        Returns:
            tuple[Tensor, Tensor]: L2-normalised prototypes of shape
            (B, P, C) and their coordinates, (B, P, n), with
            ``P = h' * w'[ * d']`` from :meth:`prototype_grid_size`.
        """
        return self._teacher_side(teacher_embedding, teacher_coords)[:2]

    def forward(self, student_embeddings: Sequence[torch.Tensor],
                student_coords: Sequence[torch.Tensor],
                teacher_embedding: torch.Tensor,
                teacher_coords: torch.Tensor) -> List[torch.Tensor]:
        """Compute the loss of every student.

        Coordinates give the (y, x) or (y, x, z) position of every embedding
        pixel in one frame common to the teacher and the students (input
        voxels of the un-augmented slice or patch), so that pixels showing
        the same place have the same coordinates. They may also be given at
        another resolution covering the same field of view (e.g. the
        input's); they are then resampled to the embedding's size first.

        Args:
            student_embeddings (Sequence[Tensor]): Embeddings of shape
                (B, C, h_s, w_s[, d_s]), one per student.
            student_coords (Sequence[Tensor]): Their coordinates, each of
                shape (B, n, h_s, w_s[, d_s]), n = 2 or 3.
            teacher_embedding (Tensor): Embedding of shape
                (B, C, h_t, w_t[, d_t]).
            teacher_coords (Tensor): Its coordinates, (B, n, h_t, w_t[,
                d_t]).

        Returns:
            list[Tensor]: One scalar loss per student, multiplied by
            ``loss_weight``. A student none of whose pixels is within
            ``max_distance`` of a teacher pixel, in any image, gets a zero
            that stays attached to its embedding (zero gradients), so that
            backward and distributed training still work.
        """
        if len(student_embeddings) != len(student_coords):
            raise ValueError(f'Got {len(student_embeddings)} student '
                             f'embeddings but {len(student_coords)} '
                             'coordinate maps.')
        device_type = teacher_embedding.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            with torch.no_grad():
                protos, proto_coords, teacher_pixels, teacher_pixel_coords = \
                    self._teacher_side(teacher_embedding, teacher_coords)
                targets = self._assign(teacher_pixels, protos,
                                       self.temperature_teacher)
                if self.use_weighting_teacher:
                    targets = targets * self.spatial_weight(
                        teacher_pixel_coords, proto_coords)
            losses = []
            for embedding, coords in zip(student_embeddings, student_coords):
                losses.append(
                    self._student_loss(embedding, coords, protos, targets,
                                       teacher_pixel_coords))
        return losses

    def _teacher_side(
        self, teacher_embedding: torch.Tensor, teacher_coords: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Prototypes and loss-grid pixels of the teacher (no gradients).

        Returns:
            tuple[Tensor, Tensor, Tensor, Tensor]: Prototypes (B, P, C),
            their coordinates (B, P, n), the teacher pixels on the loss grid
            (B, N, C) and their coordinates (B, N, n).
        """
        teacher, coords = self._prepare(teacher_embedding.detach(),
                                        teacher_coords)
        loss_size = self.loss_grid_size(teacher.shape[2:])
        pixels = flatten_pixels(resample(teacher, loss_size))
        pixel_coords = flatten_pixels(resample(coords, loss_size))
        seed_size = self.prototype_grid_size(teacher.shape[2:])
        protos, proto_coords = self._cluster(
            pixels, pixel_coords, flatten_pixels(resample(teacher, seed_size)),
            flatten_pixels(resample(coords, seed_size)))
        return protos, proto_coords, pixels, pixel_coords

    def _prepare(self, embedding: torch.Tensor,
                 coords: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Cast to float32 and bring the coordinates to the embedding size."""
        embedding = embedding.float()
        coords = coords.detach().float()
        if (embedding.shape[0] != coords.shape[0]
                or coords.dim() != embedding.dim()
                or coords.shape[1] != embedding.dim() - 2):
            raise ValueError(f'Coordinates of shape {tuple(coords.shape)} do '
                             'not fit an embedding of shape '
                             f'{tuple(embedding.shape)}.')
        if coords.shape[2:] != embedding.shape[2:]:
            coords = resample(coords, embedding.shape[2:])
        return embedding, coords

    @staticmethod
    def _assign(pixels: torch.Tensor, protos: torch.Tensor,
                temperature: float) -> torch.Tensor:
        """Soft assignment of pixels (B, N, C) to prototypes (B, P, C).

        Returns:
            Tensor: ``softmax_p(cos(pixel, proto) / temperature)``, of shape
            (B, N, P); the prototypes must be L2-normalised.
        """
        cos = torch.einsum('bnc,bpc->bnp', F.normalize(pixels, dim=-1), protos)
        return torch.softmax(cos / temperature, dim=-1)

    def _cluster(
            self, pixels: torch.Tensor, pixel_coords: torch.Tensor,
            seeds: torch.Tensor,
            seed_coords: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Soft k-means of the teacher pixels, spatially weighted.

        Args:
            pixels (Tensor): Teacher pixels of shape (B, N, C).
            pixel_coords (Tensor): Their coordinates, (B, N, n).
            seeds (Tensor): Prototype seeds of shape (B, P, C).
            seed_coords (Tensor): Their coordinates, (B, P, n).

        Returns:
            tuple[Tensor, Tensor]: Normalised prototypes (B, P, C) and their
            coordinates (B, P, n).
        """
        protos = F.normalize(seeds, dim=-1)
        proto_coords = seed_coords
        for _ in range(self.k_means_iterations):
            weight = self._assign(pixels, protos, self.temperature_teacher)
            if self.use_weighting_protos:
                weight = weight * self.spatial_weight(pixel_coords,
                                                      proto_coords)
            mass = weight.sum(dim=1).unsqueeze(-1)  # (B, P, 1)
            # A prototype far from every pixel can get no mass in float32;
            # it keeps its previous value instead of turning into NaN.
            has_mass = mass > 0
            mass = mass.clamp(min=torch.finfo(mass.dtype).tiny)
            new_protos = torch.einsum('bnp,bnc->bpc', weight, pixels) / mass
            new_coords = torch.einsum('bnp,bnc->bpc', weight,
                                      pixel_coords) / mass
            protos = torch.where(has_mass, F.normalize(new_protos, dim=-1),
                                 protos)
            proto_coords = torch.where(has_mass, new_coords, proto_coords)
        return protos, proto_coords

    def _student_loss(self, embedding: torch.Tensor, coords: torch.Tensor,
                      protos: torch.Tensor, targets: torch.Tensor,
                      teacher_coords: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of one student to the closest teacher targets.

        Args:
            embedding (Tensor): Student embedding of shape (B, C, h, w[, d]).
            coords (Tensor): Its coordinates, (B, n, h, w[, d]).
            protos (Tensor): Prototypes of shape (B, P, C).
            targets (Tensor): Teacher targets of shape (B, N, P).
            teacher_coords (Tensor): Teacher pixel coordinates, (B, N, n).

        Returns:
            Tensor: The weighted scalar loss.
        """
        embedding, coords = self._prepare(embedding, coords)
        loss_size = self.loss_grid_size(embedding.shape[2:])
        if self.jitter_students:
            top, bottom, left, right = torch.randint(
                0, math.ceil(self.reduction_factor), (4, )).tolist()
            height, width = embedding.shape[2:4]
            # In-plane only; a 3D map keeps its depth.
            crop = (slice(None), slice(None), slice(top, height - bottom),
                    slice(left, width - right))
            embedding, coords = embedding[crop], coords[crop]
        pixels = flatten_pixels(resample(embedding, loss_size))
        predictions = self._assign(pixels, protos, self.temperature_student)
        with torch.no_grad():
            dist = self.distance(
                flatten_pixels(resample(coords, loss_size)), teacher_coords)
            min_dist, closest = dist.min(dim=-1)  # (B, N_s)
            keep = min_dist <= self.max_distance
            paired_targets = targets.gather(
                1,
                closest.unsqueeze(-1).expand(-1, -1, targets.shape[-1]))
        log_pred = torch.log(predictions + 1e-16).clamp(min=-1e3, max=0)
        pixel_loss = -(paired_targets * log_pred).sum(dim=-1)  # (B, N_s)
        num_kept = keep.sum(dim=1)
        has_kept = num_kept > 0
        if not has_kept.any():
            return pixels.sum() * 0
        image_loss = (pixel_loss * keep).sum(dim=1) / num_kept.clamp(min=1)
        image_loss = image_loss[has_kept]
        return self.loss_weight * image_loss.mean()

    @property
    def loss_name(self) -> str:
        """str: Key prefix of the losses in the loss dict."""
        return self._loss_name
