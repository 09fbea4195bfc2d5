# Copyright (c) OpenMMLab. All rights reserved.
"""Write medvlsm-style prompts p0..p9 into an annotation file, from masks.

For a dataset laid out as ``DATA_ROOT/{images, masks, anns}`` with records
``{"img_name", "mask_name", ...}`` (as the converters write them), every
record gets ``prompts`` built by :mod:`mmvlsm.datasets.prompt_generation`
(number, size, location from the mask; colour and shape measured on the
image; the general descriptions of ``--descriptions``, a JSON list of
phrases, give p7..p9). Masks are read as the datasets read them
(:class:`mmvlsm.datasets.transforms.LoadBinaryMask`): a binary mask of any
two values 0 and v (0/1, 0/255, 0/65535) has its nonzero pixels as the
object, colour and JPEG masks follow that loader's rules, and a label map
needs ``--mask-labels``. Records with an empty mask get ``--empty-prompt``
for p1..p6 (BUSI's "No tumor ..." convention) and no p7..p9. The file is
written whole or not at all; an existing output needs ``--overwrite``.

Example::

    python tools/dataset_converters/generate_prompts.py \\
        --data-root data/my_polyps --split train --class-name polyp \\
        --descriptions polyp_descriptions.json
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional

import cv2

from mmvlsm.datasets.prompt_generation import make_prompts, mask_attributes
from mmvlsm.datasets.transforms import LoadBinaryMask
from mmvlsm.utils.paths import check_not_an_input, write_atomic


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate prompts p0..p9 from the masks of a dataset')
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--split', default='train')
    parser.add_argument('--class-name', required=True, help='e.g. polyp')
    parser.add_argument(
        '--descriptions', help='JSON list of general descriptions (p7-p9)')
    parser.add_argument(
        '--empty-prompt',
        default='',
        help='p1..p6 of records whose mask is empty')
    parser.add_argument(
        '--mask-labels',
        type=int,
        nargs='+',
        help='values of the masks that are the object, for masks that are '
        'label maps (LoadBinaryMask\'s mask_labels)')
    parser.add_argument(
        '--location-width-bug',
        action='store_true',
        help="reproduce medvlsm's location rule (column compared with "
        'thirds of the height)')
    parser.add_argument(
        '--out', help='output file (default: overwrite the input)')
    parser.add_argument('--overwrite', action='store_true')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    ann_file = osp.join(args.data_root, 'anns', f'{args.split}.json')
    out = args.out or ann_file
    try:
        # The annotation file itself is replaced only by default (no --out).
        check_not_an_input(out, [args.descriptions], '--out')
    except ValueError as err:
        sys.exit(f'generate_prompts.py: {err}')
    if osp.exists(out) and not args.overwrite:
        sys.exit(f'generate_prompts.py: {out} exists; pass --overwrite')
    with open(ann_file, encoding='utf-8') as f:
        records = json.load(f)
    descriptions = []
    if args.descriptions:
        with open(args.descriptions, encoding='utf-8') as f:
            descriptions = json.load(f)
        if not (isinstance(descriptions, list)
                and all(isinstance(d, str) for d in descriptions)):
            sys.exit(f'generate_prompts.py: {args.descriptions} must hold '
                     'a JSON list of strings')
    load_mask = LoadBinaryMask(mask_labels=args.mask_labels)
    for index, record in enumerate(records):
        where = f'generate_prompts.py: record {index} of {ann_file}'
        img_path = osp.join(args.data_root, 'images', record['img_name'])
        image = cv2.imread(img_path, cv2.IMREAD_COLOR)
        if image is None:
            sys.exit(f'{where}: cannot read {img_path}')
        try:
            mask = load_mask(
                dict(
                    seg_map_path=osp.join(args.data_root, 'masks',
                                          record['mask_name']),
                    img_path=img_path,
                    ori_shape=image.shape[:2]))['gt_seg_map'].astype(bool)
        except (FileNotFoundError, ValueError) as err:
            sys.exit(f'{where}: {err}')
        if not mask.any():
            record['prompts'] = dict(
                p0='', **{f'p{k}': args.empty_prompt
                          for k in range(1, 7)})
            continue
        attributes = mask_attributes(mask, image, args.location_width_bug)
        record['prompts'] = make_prompts(args.class_name, attributes,
                                         descriptions)
    write_atomic(out, json.dumps(records, indent=1))
    print(f'prompts of {len(records)} records written to {out}')


if __name__ == '__main__':
    main()
