# Copyright (c) OpenMMLab. All rights reserved.
"""Volume intensities to the 8-bit grey slices the models were trained on.

Two rules, one per kind of scan:

- **CT windows** (Hounsfield units, level ``L`` and width ``W``): values in
  ``[L - W/2, L + W/2]`` map linearly onto 0..255, the rest clip. Named
  windows (:data:`CT_WINDOWS`) are the usual radiology presets; any other
  is ``(level, width)``.
- **Percentiles** (MR, ultrasound, anything without absolute units): the
  volume's own ``[p_low, p_high]`` percentiles (0.5 and 99.5 % by default)
  map onto 0..255, so a few very bright voxels do not darken the rest.

:meth:`IntensityWindow.resolve` turns either into the volume's value range,
and :meth:`ResolvedWindow.record` says what was used, for the record each
output carries.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

# name: (level, width) in HU.
CT_WINDOWS: Dict[str, Tuple[float, float]] = {
    # Abdominal organs (liver, spleen, kidneys, pancreas) against fat.
    'abdomen': (50.0, 400.0),
    # Lung parenchyma and airways.
    'lung': (-600.0, 1500.0),
    # Cortical and trabecular bone.
    'bone': (400.0, 1800.0),
    # Grey and white matter.
    'brain': (40.0, 80.0),
    # Soft tissue of the neck and mediastinum.
    'soft-tissue': (50.0, 350.0),
}
DEFAULT_PERCENTILES = (0.5, 99.5)
WindowSpec = Union[None, str, Sequence[float], dict, 'IntensityWindow']


@dataclass(frozen=True)
class ResolvedWindow:
    """The value range of one volume that maps onto 0..255."""

    low: float
    high: float
    rule: dict

    def to_uint8(self, values: np.ndarray) -> np.ndarray:
        """``[low, high]`` -> 0..255 (rounded, clipped), uint8.

        Computed in float64 so that every caller gets the same bytes, as
        ``(value - low) * 255 / (high - low)``: multiplying before dividing
        keeps halves exact for integer HU (a window's level maps to 128,
        not to 127 through a rounded ``255 / width``); halves round to
        even.
        """
        if not self.high > self.low:
            return np.zeros(np.shape(values), np.uint8)
        shifted = np.clip(np.asarray(values, np.float64), self.low,
                          self.high) - self.low
        return np.round(shifted * 255.0 / (self.high - self.low)).astype(
            np.uint8)

    def record(self) -> dict:
        """What was used, for the record written with each output."""
        return dict(self.rule, low=self.low, high=self.high)


@dataclass(frozen=True)
class IntensityWindow:
    """A CT window or a percentile rule.

    Attributes:
        level (float, optional): The window's centre (HU).
        width (float, optional): The window's width (HU).
        name (str, optional): The preset's name.
        percentiles (tuple[float, float], optional): The percentile rule.
    """

    level: Optional[float] = None
    width: Optional[float] = None
    name: Optional[str] = None
    percentiles: Optional[Tuple[float, float]] = None

    def __post_init__(self) -> None:
        if self.percentiles is not None:
            low, high = self.percentiles
            if not 0 <= low < high <= 100:
                raise ValueError('percentiles must satisfy 0 <= low < high '
                                 f'<= 100, got {self.percentiles}')
        elif self.level is None or self.width is None or not self.width > 0:
            raise ValueError('a window needs a level and a width > 0, got '
                             f'level {self.level}, width {self.width}')

    def resolve(self, volume: np.ndarray) -> ResolvedWindow:
        """The value range of ``volume`` this rule maps onto 0..255."""
        if self.percentiles is not None:
            low, high = np.percentile(volume, self.percentiles)
            rule = dict(kind='percentile', percentiles=list(self.percentiles))
            return ResolvedWindow(float(low), float(high), rule)
        rule = dict(kind='window', level=self.level, width=self.width)
        if self.name is not None:
            rule['name'] = self.name
        return ResolvedWindow(self.level - self.width / 2,
                              self.level + self.width / 2, rule)


def parse_window(spec: WindowSpec) -> IntensityWindow:
    """An :class:`IntensityWindow` from the forms users write.

    Args:
        spec: None or ``'percentile'`` (the 0.5-99.5 % rule), a name of
            :data:`CT_WINDOWS`, ``(level, width)``, ``dict(level=...,
            width=...)``, ``dict(percentiles=(low, high))``, or an
            :class:`IntensityWindow`.

    Raises:
        ValueError: For an unknown name or malformed values.
    """
    if isinstance(spec, IntensityWindow):
        return spec
    if spec is None or spec == 'percentile':
        return IntensityWindow(percentiles=DEFAULT_PERCENTILES)
    if isinstance(spec, str):
        if spec not in CT_WINDOWS:
            raise ValueError(
                f'unknown window {spec!r}: use one of '
                f'{", ".join(CT_WINDOWS)}, "percentile", or a level and width')
        return IntensityWindow(*CT_WINDOWS[spec], name=spec)
    if isinstance(spec, dict):
        if set(spec) == {'percentiles'}:
            return IntensityWindow(
                percentiles=tuple(map(float, spec['percentiles'])))
        if set(spec) == {'level', 'width'}:
            return IntensityWindow(float(spec['level']), float(spec['width']))
        raise ValueError('a window dict has the keys level and width, or '
                         f'percentiles; got {sorted(spec)}')
    try:
        level, width = map(float, spec)
    except (TypeError, ValueError) as err:
        raise ValueError(f'a window is (level, width); got {spec!r}') from err
    return IntensityWindow(level, width)
