# Copyright (c) OpenMMLab. All rights reserved.
"""Prompts p0..p9 of a new dataset, from its masks (and images).

medvlsm's attributes and templates (its ``features_from_img.py`` and
``get_prompts_csv.py``), for a dataset with one object class:

- number: the connected components of the mask (4-connectivity), in words;
- size, per component, from the share of the image it covers: above 0.30
  "large", above 0.08 "medium", below 0.001 "tiny", else "small";
  components covering at most 0.0001 get no size (they still count in the
  number and the location); the distinct sizes are joined;
- location, per component, on a 3 x 3 grid: the one cell holding it; else
  the one cell holding at least 10 % of it; else, if no cell does, the cell
  holding the least of it (medvlsm's choice); else the cell of the centre
  of its bounding box (rows and columns in thirds; medvlsm compared the
  column with thirds of the *height*, ``location_width_bug=True``);
- colour and shape, which medvlsm asked a VQA model (OFA) for, from simple
  measurements of the largest component instead: colour is the name of the
  hue of the component's mean colour (black or white/grey when dark or
  unsaturated), shape is "round" when its circularity 4 pi A / P^2 (area
  and length of its outer contour) is at least 0.8 (a disc: 0.81-0.89, a
  square: 0.79), "oval" when its minimum-area rectangle is at least 1.6 times
  longer than wide, else "irregular".

Templates: p0 ``""``, p1 ``{class}``, p2 ``{shape} {class}``, p3 ``{colour}
{shape} {class}``, p4 ``{size} {colour} {shape} {class}``, p5 ``{number}
{size} {colour} {shape} {class}``, p6 p5 + ``, located in {location} of
the image``, and with general descriptions of the class (a user file),
p7/p8/p9: ``{class}`` / ``{p5}`` / ``{p5}`` + ``located in {location} of
the image``, each ``which is {description}``, one per description.
"""
import math
from typing import Dict, Optional, Sequence

import cv2
import numpy as np
from num2words import num2words
from scipy import ndimage

CELLS = ('top left', 'top', 'top right', 'left', 'center', 'right',
         'bottom left', 'bottom', 'bottom right')
SIZES = ('tiny', 'small', 'medium', 'large')


def size_of(coverage: float) -> Optional[str]:
    """medvlsm's size word of a component covering ``coverage`` of the
    image, None for specks (<= 0.0001)."""
    if coverage <= 0.0001:
        return None
    if coverage > 0.30:
        return 'large'
    if coverage > 0.08:
        return 'medium'
    return 'tiny' if coverage < 0.001 else 'small'


def location_of(component: np.ndarray,
                location_width_bug: bool = False) -> str:
    """medvlsm's 3 x 3 grid location of one component (H, W) bool."""
    h, w = component.shape
    rows = (0, int(h / 3), int(2 * h / 3), h)
    cols = (0, int(w / 3), int(2 * w / 3), w)
    total = component.sum()
    shares = {
        CELLS[3 * r + c]:
        component[rows[r]:rows[r + 1], cols[c]:cols[c + 1]].sum() / total
        for r in range(3)
        for c in range(3)
    }
    nonzero = {k: v for k, v in shares.items() if v != 0}
    if len(nonzero) == 1:
        return next(iter(nonzero))
    significant = [k for k, v in shares.items() if v >= 0.1]
    if not significant:
        return min(nonzero, key=nonzero.get)
    if len(significant) == 1:
        return significant[0]
    ys, xs = np.nonzero(component)
    row = (ys.min() + ys.max() + 1) / 2
    col = (xs.min() + xs.max() + 1) / 2
    width = h if location_width_bug else w

    def third(value: float, length: float, words: Sequence[str]) -> str:
        if value < length / 3:
            return words[0]
        return words[1] if value <= 2 * length / 3 else words[2]

    vertical = third(row, h, ('top', 'center', 'bottom'))
    horizontal = third(col, width, ('left', 'center', 'right'))
    if vertical == 'center':
        return horizontal
    return vertical if horizontal == 'center' else (f'{vertical} {horizontal}')


def colour_of(image: np.ndarray, component: np.ndarray) -> str:
    """Name of the mean colour of ``component`` in a BGR uint8 image."""
    mean = image[component].reshape(-1, 3).mean(axis=0).astype(np.uint8)
    hue, saturation, value = (
        int(v)
        for v in cv2.cvtColor(mean[None, None], cv2.COLOR_BGR2HSV_FULL)[0, 0])
    if value < 50:
        return 'black'
    if saturation < 40:
        return 'white' if value > 200 else 'grey'
    degrees = hue * 360 / 256
    for limit, name in ((15, 'red'), (40, 'orange'), (70, 'yellow'), (170,
                                                                      'green'),
                        (260, 'blue'), (300, 'purple'), (345, 'pink')):
        if degrees < limit:
            return name
    return 'red'


def shape_of(component: np.ndarray) -> str:
    """``'round'``, ``'oval'`` or ``'irregular'`` (see the module doc)."""
    contours, _ = cv2.findContours(
        component.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    perimeter = cv2.arcLength(contour, True)
    area = cv2.contourArea(contour)
    if perimeter > 0 and 4 * math.pi * area / perimeter**2 >= 0.8:
        return 'round'
    (_, _), (side_a, side_b), _ = cv2.minAreaRect(contour)
    if min(side_a,
           side_b) > 0 and max(side_a, side_b) / min(side_a, side_b) >= 1.6:
        return 'oval'
    return 'irregular'


def mask_attributes(mask: np.ndarray,
                    image: Optional[np.ndarray] = None,
                    location_width_bug: bool = False) -> Dict[str, str]:
    """The attributes of a binary mask (and its BGR image).

    Args:
        mask (np.ndarray): (H, W), nonzero = object; not empty.
        image (np.ndarray, optional): (H, W, 3) BGR uint8, for the colour.
        location_width_bug (bool): Reproduce medvlsm's comparison of the
            column with thirds of the height. Defaults to False.

    Returns:
        dict[str, str]: ``number``, ``size``, ``location``, ``shape`` and
        ``colour`` (empty without an image).
    """
    labels, count = ndimage.label(mask > 0)
    if count == 0:
        raise ValueError('the mask is empty')
    components = [labels == i + 1 for i in range(count)]
    coverage = [c.sum() / c.size for c in components]
    sizes = {size_of(c) for c in coverage} - {None}
    largest = components[int(np.argmax(coverage))]
    return dict(
        number=num2words(count),
        size=', '.join(s for s in SIZES if s in sizes),
        location=', '.join(
            location_of(c, location_width_bug) for c in components),
        shape=shape_of(largest),
        colour=colour_of(image, largest) if image is not None else '')


def make_prompts(
    class_name: str,
    attributes: Dict[str, str],
    descriptions: Sequence[str] = ()
) -> Dict[str, object]:
    """medvlsm's prompts p0..p6 (p7..p9 with ``descriptions``).

    Args:
        class_name (str): The object, e.g. ``'polyp'``.
        attributes (dict): From :func:`mask_attributes`.
        descriptions (Sequence[str]): General descriptions of the class
            ("a projecting growth of tissue", ...). Defaults to none.

    Returns:
        dict: ``p0``..``p6`` strings, ``p7``..``p9`` lists of strings.
    """

    def words(*parts: str) -> str:
        return ' '.join(p for p in parts if p)

    a = attributes
    p5 = words(a['number'], a['size'], a['colour'], a['shape'], class_name)
    location = f'located in {a["location"]} of the image'
    prompts = dict(
        p0='',
        p1=class_name,
        p2=words(a['shape'], class_name),
        p3=words(a['colour'], a['shape'], class_name),
        p4=words(a['size'], a['colour'], a['shape'], class_name),
        p5=p5,
        p6=f'{p5}, {location}')
    if descriptions:
        prompts['p7'] = [f'{class_name} which is {d}' for d in descriptions]
        prompts['p8'] = [f'{p5} which is {d}' for d in descriptions]
        prompts['p9'] = [f'{p5} which is {d} {location}' for d in descriptions]
    return prompts
