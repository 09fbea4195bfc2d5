# Copyright (c) OpenMMLab. All rights reserved.
"""Put the public downloads of the medvlsm datasets into ``data/<ds>/``.

Reads the shipped ``data/<ds>/anns/*.json`` and writes every image and mask
they name into ``data/<ds>/images/`` and ``data/<ds>/masks/`` (images
copied or converted to the annotation's format, masks as 0/255 PNG under
the annotation's names; see ``medvlsm_common.py``). ``RAW_DIR`` is the
extracted download; each dataset's expected layout is in the docstring of
its ``spec_*`` function below (``--help`` lists them). Existing files are
kept unless ``--overwrite``. CAMUS frames come from volume files and its
missing ``train.json`` is built (``medvlsm_camus.py``); CheXlocalize masks
are drawn from the radiologists' outlines (``medvlsm_chexlocalize.py``).

Example::

    python tools/dataset_converters/medvlsm.py kvasir_polyp ~/dl/Kvasir-SEG
"""
import argparse
import os.path as osp
import sys
from typing import Callable, Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from mmvlsm.utils.paths import check_not_an_input  # noqa: E402

import medvlsm_common  # noqa: E402
from medvlsm_camus import CamusConverter  # noqa: E402
from medvlsm_chexlocalize import ChexlocalizeConverter  # noqa: E402

REPO = medvlsm_common.REPO
Converter = medvlsm_common.Converter
DatasetSpec = medvlsm_common.DatasetSpec
MissingSourceError = medvlsm_common.MissingSourceError
convert = medvlsm_common.convert
same_stem = medvlsm_common.same_stem

PNG = ('.png', )


def spec_kvasir_polyp() -> DatasetSpec:
    """Kvasir-SEG (``kvasir-seg.zip``, simula.no).

    Layout: ``RAW_DIR/images/<id>.jpg`` and ``RAW_DIR/masks/<id>.jpg``
    (``RAW_DIR`` = ``Kvasir-SEG/`` or the folder holding it). The
    annotation names are the same ``<id>.jpg``: images are copied, masks
    (lossy 0/255 JPEGs) thresholded at 127 and written as PNG under their
    ``.jpg`` names.
    """
    return DatasetSpec('kvasir_polyp', ['images', 'Kvasir-SEG/images'],
                       ['masks', 'Kvasir-SEG/masks'],
                       same_stem(('.jpg', '.jpeg')),
                       same_stem(('.jpg', '.jpeg', '.png')))


def spec_clinicdb_polyp() -> DatasetSpec:
    """CVC-ClinicDB (612 frames numbered 1..612).

    Layout: ``RAW_DIR/Original/<n>.tif`` and ``RAW_DIR/Ground Truth/<n>.tif``
    (the official TIFF release; ``RAW_DIR`` = ``CVC-ClinicDB/`` or its
    parent); the PNG release (``PNG/Original/<n>.png``,
    ``PNG/Ground Truth/<n>.png``) is found too. Annotations name
    ``<n>.png``: TIFF images are converted to PNG, masks binarised.
    """
    roots = [
        '', 'CVC-ClinicDB', 'PNG', 'CVC-ClinicDB/PNG', 'TIF',
        'CVC-ClinicDB/TIF'
    ]
    exts = ('.tif', '.tiff', '.png')
    return DatasetSpec('clinicdb_polyp',
                       [osp.join(r, 'Original') for r in roots],
                       [osp.join(r, 'Ground Truth') for r in roots],
                       same_stem(exts), same_stem(exts))


def spec_bkai_polyp() -> DatasetSpec:
    """BKAI-IGH NeoPolyp (Kaggle ``bkai-igh-neopolyp``, 1000 train images).

    Layout: ``RAW_DIR/train/<id>.jpeg`` and ``RAW_DIR/train_gt/<id>.jpeg``
    (also the Kaggle zip's doubled ``train/train/``, ``train_gt/train_gt/``).
    Masks are colour JPEGs, red = neoplastic and green = non-neoplastic
    polyp: both are polyp, i.e. a pixel is foreground where its brightest
    channel is > 127 (near-black JPEG noise is background). Annotations
    name ``<id>.jpeg``: images copied, masks written as PNG under that name.
    """
    return DatasetSpec('bkai_polyp', ['train/train', 'train'],
                       ['train_gt/train_gt', 'train_gt'],
                       same_stem(('.jpeg', '.jpg')),
                       same_stem(('.jpeg', '.jpg', '.png')))


def _pranet(name: str, folder: str, note: str = '') -> DatasetSpec:
    roots = [f'TestDataset/{folder}', folder, '']
    return DatasetSpec(
        name, [osp.join(r, 'images') for r in roots],
        [osp.join(r, 'masks') for r in roots],
        same_stem(PNG),
        same_stem(PNG),
        note=note)


def spec_colondb_polyp() -> DatasetSpec:
    """CVC-ColonDB as in PraNet's ``TestDataset.zip`` (380 frames).

    Layout: ``RAW_DIR/TestDataset/CVC-ColonDB/{images,masks}/<n>.png``
    with n = 1..380 (``RAW_DIR`` may also be ``TestDataset/`` or
    ``TestDataset/CVC-ColonDB/``). Annotations name the same ``<n>.png``.
    """
    return _pranet('colondb_polyp', 'CVC-ColonDB')


def spec_etis_polyp() -> DatasetSpec:
    """ETIS-LaribPolypDB as in PraNet's ``TestDataset.zip`` (196 frames).

    Layout: ``RAW_DIR/TestDataset/ETIS-LaribPolypDB/{images,masks}/<n>.png``
    with n = 1..196 (``RAW_DIR`` may also be ``TestDataset/`` or the
    dataset folder). Annotations (also ``testB.json``) name ``<n>.png``.
    """
    return _pranet('etis_polyp', 'ETIS-LaribPolypDB')


def spec_cvc300_polyp() -> DatasetSpec:
    """CVC-300 annotations, which upstream are copies of ColonDB's.

    The shipped ``cvc300_polyp/anns/*.json`` are byte-identical to the
    ColonDB files (an upstream release bug, see data/README.md): they name
    ColonDB frames 1..380 with ColonDB's prompts. To produce exactly the
    files they name, the images come from
    ``RAW_DIR/TestDataset/CVC-ColonDB/{images,masks}/<n>.png`` (PraNet's
    ``TestDataset.zip``, as for ``colondb_polyp``), not from
    ``TestDataset/CVC-300`` (60 frames with other numbers). A warning says
    so; a real CVC-300 split needs new annotation files.
    """
    return _pranet(
        'cvc300_polyp', 'CVC-ColonDB',
        'cvc300_polyp/anns are copies of the ColonDB annotation files '
        '(upstream bug): converting the CVC-ColonDB frames they name, not '
        'CVC-300')


def spec_isic() -> DatasetSpec:
    """ISIC 2016 Task 1 (ISBI 2016 challenge, 900 train + 379 test).

    Layout: ``RAW_DIR/ISBI2016_ISIC_Part1_{Training,Test}_Data/ISIC_<n>.jpg``
    and ``RAW_DIR/ISBI2016_ISIC_Part1_{Training,Test}_GroundTruth/
    ISIC_<n>_Segmentation.png`` (the four zips extracted side by side).
    Annotation names are the download's names.
    """
    kinds = ('Training', 'Test')
    return DatasetSpec('isic',
                       [f'ISBI2016_ISIC_Part1_{k}_Data' for k in kinds],
                       [f'ISBI2016_ISIC_Part1_{k}_GroundTruth' for k in kinds],
                       same_stem(('.jpg', )), same_stem(PNG))


def spec_dfu() -> DatasetSpec:
    """DFUC 2022 training release (2000 images with masks).

    Layout: ``RAW_DIR/DFUC2022_train_images/<n>.jpg`` and
    ``RAW_DIR/DFUC2022_train_masks/<n>.png`` (``RAW_DIR`` may also be the
    folder holding ``DFUC2022_train_release/``). All medvlsm splits come
    from these 2000 images; annotation names are the download's names.
    """
    roots = ['', 'DFUC2022_train_release']
    return DatasetSpec('dfu',
                       [osp.join(r, 'DFUC2022_train_images') for r in roots],
                       [osp.join(r, 'DFUC2022_train_masks') for r in roots],
                       same_stem(('.jpg', )), same_stem(PNG))


def _busi_names(mask: bool) -> Callable[[str], List[str]]:

    def names(name: str) -> List[str]:
        num, cls = osp.splitext(osp.basename(name))[0].rsplit('_', 1)
        return [f'{cls}/{cls} ({num}){"_mask*" if mask else ""}.png']

    return names


def spec_busi() -> DatasetSpec:
    """BUSI, Dataset_BUSI_with_GT (780 images: benign, malignant, normal).

    Layout: ``RAW_DIR/{benign,malignant,normal}/<cls> (<n>).png`` with
    masks ``<cls> (<n>)_mask.png`` and, for a few tumours with several
    lesions, ``<cls> (<n>)_mask_1.png``...; ``RAW_DIR`` may also be the
    folder holding ``Dataset_BUSI_with_GT/``. Annotations name
    ``<n>_<cls>.png`` for both. All masks of an image are merged (union);
    the normals' masks are empty.
    """
    roots = ['', 'Dataset_BUSI_with_GT']
    return DatasetSpec(
        'busi',
        roots,
        roots,
        _busi_names(False),
        _busi_names(True),
        merge_masks=True)


def spec_camus(check_prompts: bool = True) -> Converter:
    """CAMUS challenge release (``training.zip``, ``testing.zip``).

    Layout: ``RAW_DIR/{training,testing}/patient<NNNN>/`` with the frames
    ``patient<NNNN>_<2CH|4CH>_<ED|ES>.mhd`` (+ ``.raw``; ``.nii.gz`` also
    read), their label maps ``..._gt.mhd`` and ``Info_<2CH|4CH>.cfg``. Frames
    go to ``images/{train,test}/`` and one mask per structure to
    ``masks/{train,test}/mask_<1|2|3>/`` (val and test both number their
    patients 1-50). ``anns/train.json``, missing upstream, is built from
    the training patients not in ``val.json``. Each shipped record's
    prompts are checked against its patient's ``Info_*.cfg``
    (``--no-prompt-check`` skips that).
    """
    return CamusConverter(check_prompts=check_prompts)


def spec_chexlocalize() -> Converter:
    """CheXlocalize (Stanford AIMI): CheXpert validation and test images.

    Layout: ``RAW_DIR/CheXpert-v1.0/{valid,test}/patient<N>/study<N>/
    view<N>_<frontal|lateral>.jpg`` and ``RAW_DIR/gt_annotations_{val,test}
    .json`` (radiologists' polygons; ``RAW_DIR`` may also be the folder
    holding ``CheXlocalize/``). Each pathology's polygons are filled into
    its mask; image and mask are resized to a shorter side of 512 pixels,
    as medvlsm's files are.
    """
    return ChexlocalizeConverter()


SPECS: Dict[str, Callable[..., Converter]] = {
    name[len('spec_'):]: fn
    for name, fn in sorted(globals().items()) if name.startswith('spec_')
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    epilog = '\n\n'.join(f'{name}: {fn.__doc__.strip()}'
                         for name, fn in SPECS.items())
    parser = argparse.ArgumentParser(
        description='Write the images and masks named by the shipped '
        'medvlsm annotation files from a public download.',
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('dataset', choices=sorted(SPECS))
    parser.add_argument('raw_dir', help='the extracted download')
    parser.add_argument(
        '--data-root',
        help='holds anns/ and receives images/, masks/ '
        '(default: data/<dataset> of this repository)')
    parser.add_argument(
        '--splits', nargs='+', help='splits to convert (default: all)')
    parser.add_argument(
        '--skip-missing',
        action='store_true',
        help='convert the records that have sources and log the others')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace existing files')
    parser.add_argument(
        '--no-prompt-check',
        action='store_true',
        help='camus: do not compare the records\' prompts with the '
        'patients\' Info_*.cfg')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the converter; returns the exit status."""
    args = parse_args(argv)
    data_root = args.data_root or osp.join(REPO, 'data', args.dataset)
    if args.no_prompt_check and args.dataset != 'camus':
        print(
            'ERROR: --no-prompt-check applies to camus only', file=sys.stderr)
        return 2
    try:
        check_not_an_input(data_root, [args.raw_dir], '--data-root')
    except ValueError as err:
        print(f'ERROR: {err}', file=sys.stderr)
        return 2
    options = dict(check_prompts=not args.no_prompt_check) if (
        args.dataset == 'camus') else {}
    try:
        report = convert(
            SPECS[args.dataset](**options),
            args.raw_dir,
            data_root,
            splits=args.splits,
            skip_missing=args.skip_missing,
            overwrite=args.overwrite)
    except (MissingSourceError, FileNotFoundError, ValueError) as err:
        print(f'ERROR: {err}', file=sys.stderr)
        return 1
    print(f'Done: {report.records} records, {report.written} files written, '
          f'{report.kept} kept, {len(report.skipped)} records skipped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
