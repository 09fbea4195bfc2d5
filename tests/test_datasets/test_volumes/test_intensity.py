# Copyright (c) OpenMMLab. All rights reserved.
import numpy as np
import pytest

from mmvlsm.datasets.volumes import (CT_WINDOWS, IntensityWindow, parse_window)

HU = np.array([-2000.0, -150.0, 0.0, 50.0, 100.0, 249.0, 250.0, 3000.0])


def test_named_window_bytes():
    # abdomen: level 50, width 400 -> [-150, 250], 255 / 400 per HU.
    window = parse_window('abdomen').resolve(HU)
    assert (window.low, window.high) == (-150.0, 250.0)
    # 0 HU: 150 * 0.6375 = 95.625; 50 HU (the level): 127.5, half to even;
    # 100 HU: 159.375; 249 HU: 254.3625.
    np.testing.assert_array_equal(
        window.to_uint8(HU), [0, 0, 96, 128, 159, 254, 255, 255])
    assert window.to_uint8(HU).dtype == np.uint8
    assert window.record() == dict(
        kind='window',
        name='abdomen',
        level=50.0,
        width=400.0,
        low=-150.0,
        high=250.0)


def test_lung_and_brain_windows():
    # lung: [-1350, 150]; -600 HU: 750 * 0.17 = 127.5 -> 128.
    lung = parse_window('lung').resolve(HU)
    np.testing.assert_array_equal(
        lung.to_uint8(np.array([-1400.0, -1000.0, -600.0, 150.0])),
        [0, 60, 128, 255])
    # brain: [0, 80]; 30 HU: 95.625 -> 96, 79 HU: 251.8125 -> 252; halves
    # to even: 8 HU: 25.5 -> 26, 24 HU: 76.5 -> 76.
    brain = parse_window('brain').resolve(HU)
    np.testing.assert_array_equal(
        brain.to_uint8(np.array([-5.0, 8.0, 24.0, 30.0, 79.0, 81.0])),
        [0, 26, 76, 96, 252, 255])


@pytest.mark.parametrize(
    'spec',
    [(40, 80), [40.0, 80.0], dict(level=40, width=80)])
def test_level_width_forms(spec):
    window = parse_window(spec)
    assert window == IntensityWindow(40.0, 80.0)
    assert window.resolve(HU).record() == dict(
        kind='window', level=40.0, width=80.0, low=0.0, high=80.0)


def test_every_named_window_is_its_level_and_width():
    for name, (level, width) in CT_WINDOWS.items():
        window = parse_window(name).resolve(HU)
        assert (window.low, window.high) == (level - width / 2,
                                             level + width / 2)


@pytest.mark.parametrize('spec,percentiles', [
    (None, (0.5, 99.5)),
    ('percentile', (0.5, 99.5)),
    (dict(percentiles=(2, 98)), (2.0, 98.0)),
])
def test_percentiles_equal_numpy(spec, percentiles):
    volume = np.random.default_rng(0).gamma(2.0, 50.0, (3, 8, 9))
    window = parse_window(spec).resolve(volume)
    low, high = np.percentile(volume, percentiles)
    assert (window.low, window.high) == (low, high)
    assert window.record() == dict(
        kind='percentile', percentiles=list(percentiles), low=low, high=high)
    expected = np.round(
        (np.clip(volume, low, high) - low) * 255 / (high - low))
    np.testing.assert_array_equal(window.to_uint8(volume), expected)


def test_constant_volume_is_black():
    window = parse_window(None).resolve(np.full((2, 3, 4), 7.0))
    np.testing.assert_array_equal(window.to_uint8(np.full((2, 3, 4), 7.0)), 0)


@pytest.mark.parametrize('spec,message', [
    ('liver', 'unknown window .liver.: use one of abdomen, lung'),
    ((40, 0), 'a window needs a level and a width > 0'),
    ((40, -10), 'width -10.0'),
    ((40, 80, 1), r'a window is \(level, width\); got \(40, 80, 1\)'),
    (5, r'a window is \(level, width\); got 5'),
    (('a', 'b'), r'a window is \(level, width\)'),
    (dict(level=40), 'a window dict has the keys level and width'),
    (dict(percentiles=(99, 1)), r'0 <= low < high <= 100, got \(99.0, 1.0\)'),
    (dict(percentiles=(0, 101)), 'percentiles must satisfy'),
])
def test_bad_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_window(spec)
