# Copyright (c) OpenMMLab. All rights reserved.
"""Print what ``make quickstart`` produced: metrics and output folders."""
import argparse
import json
import os.path as osp


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('work_dir', help='the quickstart work dir')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    runs = {
        'right prompt': 'test_right_prompt',
        'wrong prompt': 'test_wrong_prompt',
    }
    print('\nQuickstart results on the toy test split (x100, mean over '
          'images; gDice = Dice over all pixels):')
    print(f'{"prompt":<14}{"mDice":>8}{"mIoU":>8}{"gDice":>8}')
    for name, sub in runs.items():
        path = osp.join(args.work_dir, sub, 'test_metrics.json')
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} is missing: did tools/test.py '
                                    'run for the quickstart?')
        with open(path) as f:
            metrics = json.load(f)
        print(f'{name:<14}{metrics["mDice"]:>8.2f}{metrics["mIoU"]:>8.2f}'
              f'{metrics["gDice"]:>8.2f}')
    print(f'\nPredicted masks: {osp.join(args.work_dir, "masks")}')
    print(f'Overlays:        {osp.join(args.work_dir, "overlays")}')
    print(f'Checkpoints and logs: {args.work_dir}')


if __name__ == '__main__':
    main()
