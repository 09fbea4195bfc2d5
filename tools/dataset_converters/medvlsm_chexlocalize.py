# Copyright (c) OpenMMLab. All rights reserved.
"""CheXlocalize (chest X-ray, 10 pathologies) in the medvlsm layout.

The download (Stanford AIMI's CheXlocalize release) holds the CheXpert
validation and test radiographs and the radiologists' outlines::

    RAW_DIR/CheXpert-v1.0/{valid,test}/patientNNNNN/studyN/viewN_<frontal|lateral>.jpg
    RAW_DIR/gt_annotations_{val,test}.json

(``RAW_DIR`` may also be the folder holding ``CheXlocalize/``). An
annotation file maps an image id (``patient64541_study1_view1_frontal``)
to its ``img_size`` ``[h, w]`` and, for each pathology a radiologist
outlined, a list of polygons of ``[x, y]`` points.

medvlsm's records are image x pathology: ``img_name`` ``<id>.jpg`` and
``mask_name`` ``<id>_<pathology>.png`` (``airspace_opacity``,
``support_devices``, ...), from the validation and test images pooled and
split by patient (shipped ``anns/``). As upstream:

- a mask is the union of the pathology's polygons, filled with their
  outline, drawn at the image's size (CheXlocalize's own rasterisation,
  which also produced its ``gt_segmentations_*.json``; those are run-length
  encoded and would need pycocotools, which makes mmpretrain import its
  multimodal models and fail with current transformers);
- image and mask are resized so that the shorter side is 512 pixels,
  keeping the aspect ratio (the medvlsm images and boxes are at that size).
  Both use area interpolation (upstream: bicubic); the mask is foreground
  where the resized coverage is above one half.

Images are written as JPEG (quality 95), masks as 0/255 PNG.
"""
import os.path as osp
import re
from functools import partial
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from medvlsm_common import Converter, Writer, read_json, write_atomic
from PIL import Image, ImageDraw

SHORT_SIDE = 512
JPEG_QUALITY = 95
ROOTS = ('', 'CheXlocalize', 'cheXlocalize_dataset')
IMAGE_DIRS = ('CheXpert-v1.0/valid', 'CheXpert-v1.0/val', 'CheXpert-v1.0/test',
              'CheXpert/valid', 'CheXpert/val', 'CheXpert/test', 'valid',
              'val', 'test')
ANNOTATIONS = ('gt_annotations_val.json', 'gt_annotations_test.json')
IMAGE_ID = re.compile(r'^(patient\d+)_(study\d+)_(view\d+_[a-z]+)$')


def resized_size(height: int, width: int,
                 short_side: int = SHORT_SIDE) -> Tuple[int, int]:
    """(H, W) with the shorter side ``short_side``, aspect ratio kept."""
    scale = short_side / min(height, width)
    return round(height * scale), round(width * scale)


def draw_polygons(polygons: Sequence[Sequence[Sequence[float]]],
                  size: Tuple[int, int]) -> np.ndarray:
    """Fill polygons (with their outline) into a mask of ``size`` (H, W).

    Args:
        polygons: ``[[[x, y], ...], ...]`` in pixels.
        size (tuple[int, int]): (H, W).

    Returns:
        np.ndarray: bool (H, W).
    """
    canvas = Image.new('1', (size[1], size[0]))
    draw = ImageDraw.Draw(canvas)
    for polygon in polygons:
        draw.polygon([(float(x), float(y)) for x, y in polygon],
                     outline=1,
                     fill=1)
    return np.array(canvas, dtype=bool)


def write_radiograph(src: str, dst: str) -> None:
    """Resize a radiograph to the short side and write it as JPEG.

    Raises:
        ValueError: If it cannot be decoded.
    """
    image = cv2.imread(src, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f'Cannot decode {src}')
    height, width = resized_size(*image.shape[:2])
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode('.jpg', image,
                           [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f'Cannot encode {src} as JPEG')
    write_atomic(dst, buf.tobytes())


def write_outline_mask(polygons: list, size: Tuple[int, int],
                       dst: str) -> None:
    """Draw polygons at ``size`` (H, W), resize, write a 0/255 PNG."""
    mask = draw_polygons(polygons, size).astype(np.float32)
    height, width = resized_size(*size)
    mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA)
    write_atomic(dst,
                 cv2.imencode('.png', (mask > 0.5).astype(np.uint8) * 255)[1]
                 .tobytes())


def valid_outline(size: object, polygons: object) -> bool:
    """Whether ``size`` is [h, w] (positive ints) and ``polygons`` a list of
    lists of [x, y] numbers."""

    def number(value: object) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    return (isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) and v > 0 for v in size)
            and isinstance(polygons, list) and all(
                isinstance(polygon, list) and all(
                    isinstance(point, list) and len(point) == 2
                    and all(number(v) for v in point) for point in polygon)
                for polygon in polygons))


def pathology_key(entry: dict, name: str) -> Optional[str]:
    """The key of ``entry`` whose snake case is ``name`` (``'Lung Lesion'``
    for ``'lung_lesion'``), if any."""
    for key in entry:
        if key.lower().replace(' ', '_') == name:
            return key
    return None


class ChexlocalizeConverter(Converter):
    """Converts the CheXlocalize download (see the module docstring)."""
    name = 'chexlocalize'
    note = ''

    def __init__(self) -> None:
        self.annotations: Dict[str, dict] = {}

    def prepare(self, raw_dir: str, data_root: str, splits: Sequence[str],
                overwrite: bool, log: Callable[[str], None]) -> None:
        """Read the outlines of ``gt_annotations_{val,test}.json``.

        Raises:
            FileNotFoundError: If neither file is in the download.
            ValueError: If a file is not a JSON object of images.
        """
        files = [
            osp.join(raw_dir, root, name) for root in ROOTS
            for name in ANNOTATIONS
            if osp.isfile(osp.join(raw_dir, root, name))
        ]
        if not files:
            raise FileNotFoundError(
                f'No {" or ".join(ANNOTATIONS)} in {raw_dir} (or its '
                f'{", ".join(r for r in ROOTS if r)} folder)')
        for path in files:
            images = read_json(path)
            if not isinstance(images, dict):
                raise ValueError(f'{path} is not a JSON object of image ids')
            self.annotations.update(images)
            log(f'chexlocalize: {len(images)} outlined images in {path}')

    def outputs(self, raw_dir: str, ann: str,
                record: dict) -> Tuple[Dict[str, Writer], List[str]]:
        """The resized radiograph and pathology mask of a record."""
        image_id = osp.splitext(record['img_name'])[0]
        parts = IMAGE_ID.match(image_id)
        mask_stem, mask_ext = osp.splitext(record['mask_name'])
        if (not parts or mask_ext != '.png'
                or not mask_stem.startswith(image_id + '_')):
            return {}, [f'{record["img_name"]!r} / {record["mask_name"]!r} '
                        'are not a CheXpert image (patientN_studyN_viewN_'
                        '<frontal|lateral>.jpg) and one of its masks '
                        '(<image>_<pathology>.png)']
        relative = osp.join(*parts.groups()) + '.jpg'
        src = next((path for path in (osp.join(raw_dir, root, folder,
                                               relative) for root in ROOTS
                                      for folder in IMAGE_DIRS)
                    if osp.isfile(path)), None)
        problems = []
        if src is None:
            problems.append(f'image {record["img_name"]!r} has no source '
                            f'(looked for {relative} in CheXpert-v1.0/'
                            '{valid,test} of RAW_DIR)')
        entry = self.annotations.get(image_id)
        pathology = mask_stem[len(image_id) + 1:]
        key = pathology_key(entry, pathology) if entry else None
        if key is None:
            problems.append(f'mask {record["mask_name"]!r} has no source '
                            f'(no {pathology} outline of {image_id} in '
                            f'{" or ".join(ANNOTATIONS)})')
        if problems:
            return {}, problems
        size, polygons = entry.get('img_size'), entry[key]
        if not valid_outline(size, polygons):
            return {}, [f'the {key!r} outline of {image_id} is not an '
                        '"img_size" [h, w] with a list of polygons of '
                        '[x, y] points']
        size = tuple(size)
        try:
            with Image.open(src) as image:
                found = (image.height, image.width)
        except OSError as err:
            return {}, [f'cannot read {src}: {err}']
        if found != size:
            return {}, [f'{src} is {found[1]}x{found[0]} but its outlines '
                        f'are drawn on {size[1]}x{size[0]} (img_size)']
        return {
            osp.join('images', record['img_name']):
            partial(write_radiograph, src),
            osp.join('masks', record['mask_name']):
            partial(write_outline_mask, polygons, size)
        }, []
