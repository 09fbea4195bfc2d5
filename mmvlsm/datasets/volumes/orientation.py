# Copyright (c) OpenMMLab. All rights reserved.
"""Slices of a volume along an anatomical axis, and back.

The slicing axis is found from the direction matrix, not from the array's
axis order, so a scan stored LPS, RAS, flipped or slightly oblique gives
the same slices in the same in-plane orientation, the one radiologists
read (DICOM's patient coordinates: x to the patient's left, y to the back,
z up):

========  ==================  ====================  ======================
axis      slices run          rows run (top first)  columns run (left first)
========  ==================  ====================  ======================
axial     inferior→superior   anterior→posterior    right→left
coronal   anterior→posterior  superior→inferior     right→left
sagittal  right→left          superior→inferior     anterior→posterior
========  ==================  ====================  ======================

A :class:`SliceLayout` is one transpose and a set of flips of the array,
so :meth:`SliceLayout.stack` is a view: writing into the stack of a mask
array writes the mask in the volume's own array order, and the mask keeps
the volume's exact geometry.
"""
import itertools
from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

AXES = ('axial', 'coronal', 'sagittal')
# Physical (LPS) axis each slicing axis is perpendicular to.
NORMALS = {'axial': 2, 'coronal': 1, 'sagittal': 0}
# From the canonical (S, P, L) array: the transpose that puts the slicing
# axis first, then the stack axes to flip (superior at the top).
CANONICAL_TO_STACK = {
    'axial': ((0, 1, 2), ()),
    'coronal': ((1, 0, 2), (1, )),
    'sagittal': ((2, 0, 1), (1, )),
}


@dataclass(frozen=True)
class SliceLayout:
    """How a (z, y, x) array becomes a stack of slices (n, rows, cols).

    ``stack = flip(array.transpose(transpose), flips)``.

    Attributes:
        axis (str): One of :data:`AXES`.
        transpose (tuple[int, int, int]): Array axes in stack order.
        flips (tuple[int, ...]): Stack axes reversed after the transpose.
    """

    axis: str
    transpose: Tuple[int, int, int]
    flips: Tuple[int, ...]

    def stack(self, array: np.ndarray) -> np.ndarray:
        """The slices (n, rows, cols) of a (z, y, x) array, as a view."""
        stack = array.transpose(self.transpose)
        for axis in self.flips:
            stack = np.flip(stack, axis)
        return stack

    def depth_last(self, array: np.ndarray) -> np.ndarray:
        """The slices as one (rows, cols, n) volume, a view: the (H, W, D)
        layout of 3D models, depth last."""
        return np.moveaxis(self.stack(array), 0, -1)

    def depth_last_spacing(
            self, spacing_xyz: Sequence[float]) -> Tuple[float, float, float]:
        """The voxel size (mm) along the axes of :meth:`depth_last`, from
        SimpleITK's (x, y, z) spacing."""
        # Array axis a is ITK axis 2 - a; the stack's axes, then depth last.
        stacked = [spacing_xyz[2 - a] for a in self.transpose]
        return tuple(stacked[1:] + stacked[:1])

    def shape(self, array_shape: Sequence[int]) -> Tuple[int, int, int]:
        """The stack's shape for an array of ``array_shape``."""
        return tuple(array_shape[a] for a in self.transpose)


def _axis_map(
        direction: Sequence[float]) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """For each ITK index axis, its nearest physical LPS axis and sign.

    The assignment is the permutation with the largest total alignment,
    so an oblique scan whose axes are all closest to one physical axis
    still gets three distinct ones.
    """
    matrix = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    best = max(
        itertools.permutations(range(3)),
        key=lambda perm: sum(abs(matrix[perm[j], j]) for j in range(3)))
    signs = tuple(1 if matrix[best[j], j] >= 0 else -1 for j in range(3))
    return best, signs


def slice_layout(direction: Sequence[float],
                 axis: str = 'axial') -> SliceLayout:
    """The layout of a 3D volume's slices along an anatomical axis.

    Args:
        direction (Sequence[float]): The volume's 3 x 3 direction matrix,
            row-major as SimpleITK's ``GetDirection()``.
        axis (str): ``'axial'``, ``'coronal'`` or ``'sagittal'``.

    Returns:
        SliceLayout: The transpose and flips from the (z, y, x) array.
    """
    if axis not in AXES:
        raise ValueError(f'axis must be one of {AXES}, got {axis!r}')
    physical, signs = _axis_map(direction)
    # Array axis a is ITK axis 2 - a; canonical axis t is physical 2 - t.
    itk_of = {p: j for j, p in enumerate(physical)}
    to_canonical = tuple(2 - itk_of[2 - t] for t in range(3))
    canonical_flips = {t for t in range(3) if signs[itk_of[2 - t]] < 0}
    order, stack_flips = CANONICAL_TO_STACK[axis]
    transpose = tuple(to_canonical[t] for t in order)
    # A flip of canonical axis t lands on the stack axis t moved to.
    flips = {order.index(t) for t in canonical_flips} ^ set(stack_flips)
    return SliceLayout(axis, transpose, tuple(sorted(flips)))
