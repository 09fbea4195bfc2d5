# Copyright (c) OpenMMLab. All rights reserved.
import csv
import io
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from prettytable import PrettyTable

from mmvlsm.registry.classification import METRICS
from mmvlsm.utils.paths import write_atomic


def _per_class_accuracy(pred: np.ndarray, target: np.ndarray,
                        num_classes: int) -> Dict[int, float]:
    """Accuracy (%) of each class that has samples, keyed by label."""
    return {
        c: float((pred[target == c] == c).mean()) * 100
        for c in range(num_classes) if (target == c).any()
    }


@METRICS.register_module()
class SlideAccuracy(BaseMetric):
    """Patch accuracy and slide accuracy by soft voting, in percent.

    Each data sample is one patch of a slide (whole-slide image, "bag").
    A slide's prediction is the class of the highest mean of its patches'
    probabilities (``pred_score``, softmax outputs); its label is that of
    its patches, which must all agree. Where several classes share the
    highest score (a tie), ``tie`` decides, for patches and slides alike.
    Returned keys (percent, not rounded; ``<i>`` is the label):

    - ``accuracy``: patch-level top-1 accuracy;
    - ``accuracy_<i>`` / ``mean_accuracy``: per-class patch accuracy and
      the mean over classes;
    - ``slide_accuracy``: slide-level accuracy;
    - ``slide_accuracy_<i>`` / ``mean_slide_accuracy``: per-class slide
      accuracy and the mean over classes;
    - ``slide_ties``: the number of slides whose vote was a tie.

    These are CITE's ``accuracy``, ``class_accuracy`` / ``mean_accuracy``,
    ``bag_accuracy`` and ``bag_class_accuracy`` / ``mean_bag_accuracy``.
    Per-class keys, and the means, cover only the classes that have
    samples (patches, resp. slides): a class without slides is left out of
    ``mean_slide_accuracy``, where CITE's evaluation (mmcls 0.25's
    ``accuracy``) divides by its count of zero and raises
    ``ZeroDivisionError``.

    ``process`` only stores ``(slide_id, pred_score, gt_label)`` of every
    patch; the slides are formed in ``compute_metrics``, which mmengine
    runs on the results gathered from all ranks, so a slide whose patches
    were evaluated on different ranks is scored correctly.

    Data samples need ``pred_score``, ``gt_label`` and the metainfo key
    ``slide_id`` (see :class:`mmvlsm.datasets.SlidePatchDataset`: pack it
    with ``dict(type='mmpretrain.PackInputs', meta_keys=(..., 'slide_id'))``).

    With ``output_dir``, the predictions are saved there as well:
    ``patch_predictions.csv`` (one row per patch: image path, slide, label,
    predicted label, class probabilities) and ``slide_predictions.csv``
    (one row per slide: its patch count, label, predicted label and mean
    probabilities), each written whole or not at all.

    Args:
        tie (str): The class a tie goes to: ``'lowest'`` (the lowest label,
            as ``argmax``, and as CITE's ``torch.topk`` on 3 classes) or
            ``'highest'``. Defaults to ``'lowest'``.
        output_dir (str, optional): Folder for the prediction CSVs.
            Defaults to None (none saved).
        collect_device (str): Device used to collect results from the
            ranks, ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix added to the metric names. Defaults
            to None.

    Example: a slide with patches scored ``[0.9, 0.1]`` and ``[0.2, 0.8]``,
    both of label 0, has patch accuracy 50% but is classified right, its
    mean ``[0.55, 0.45]`` voting for class 0.
    """
    default_prefix: Optional[str] = None

    def __init__(self,
                 tie: str = 'lowest',
                 output_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if tie not in ('lowest', 'highest'):
            raise ValueError(
                f"SlideAccuracy's tie should be 'lowest' or 'highest', got "
                f'{tie!r}')
        self.tie = tie
        self.output_dir = output_dir

    def _vote(self, scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The predicted class of each row and whether it was a tie.

        Args:
            scores (np.ndarray): Scores, shape (N, num_classes).

        Returns:
            tuple[np.ndarray, np.ndarray]: Labels (N, ) and tie flags (N, ).
        """
        top = scores == scores.max(axis=1, keepdims=True)
        if self.tie == 'lowest':
            pred = top.argmax(axis=1)
        else:
            pred = scores.shape[1] - 1 - top[:, ::-1].argmax(axis=1)
        return pred, top.sum(axis=1) > 1

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Store the slide id, probabilities and label of every patch.

        Args:
            data_batch (dict): A batch from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs as dicts with
                ``pred_score`` (shape (num_classes, )), ``gt_label`` and
                ``slide_id``.

        Raises:
            KeyError: If a sample lacks ``slide_id`` or ``pred_score``.
        """
        for data_sample in data_samples:
            for key in ('slide_id', 'pred_score', 'gt_label'):
                if key not in data_sample:
                    hint = (" (keep it in PackInputs' meta_keys)"
                            if key == 'slide_id' else '')
                    raise KeyError(f'SlideAccuracy needs {key!r} in every '
                                   f'data sample{hint}; got keys '
                                   f'{sorted(data_sample)}')
            label = torch.as_tensor(data_sample['gt_label']).reshape(-1)
            if label.numel() != 1:
                raise ValueError('SlideAccuracy needs one gt_label per '
                                 f'sample, got {label.tolist()}')
            self.results.append(
                dict(
                    img_path=data_sample.get('img_path', ''),
                    slide_id=data_sample['slide_id'],
                    pred_score=torch.as_tensor(
                        data_sample['pred_score']).detach().cpu().float(),
                    gt_label=int(label.item())))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the metrics from the patches of all ranks.

        Args:
            results (list[dict]): The records stored by ``process``.

        Returns:
            dict[str, float]: The keys listed in the class docstring
            (``slide_ties`` an int).

        Raises:
            ValueError: If there are no results, the score lengths differ,
                a label is outside them, or a slide has mixed labels.
        """
        if not results:
            raise ValueError('SlideAccuracy got no results')
        scores = np.stack([
            np.asarray(r['pred_score'], dtype=np.float64).reshape(-1)
            for r in results
        ])
        target = np.array([r['gt_label'] for r in results], dtype=np.int64)
        num_classes = scores.shape[1]
        if target.min() < 0 or target.max() >= num_classes:
            raise ValueError(f'gt_label {int(target.max())} is outside the '
                             f'{num_classes} scores of pred_score')

        slide_rows: Dict[str, List[int]] = OrderedDict()
        for i, r in enumerate(results):
            slide_rows.setdefault(r['slide_id'], []).append(i)
        slide_scores = np.empty((len(slide_rows), num_classes))
        slide_target = np.empty(len(slide_rows), dtype=np.int64)
        for j, (slide_id, rows) in enumerate(slide_rows.items()):
            labels = sorted(set(target[rows].tolist()))
            if len(labels) > 1:
                raise ValueError(
                    f'Slide {slide_id!r} has patches with labels {labels}; '
                    'slide accuracy needs one label per slide')
            slide_scores[j] = scores[rows].mean(axis=0)
            slide_target[j] = labels[0]

        pred, _ = self._vote(scores)
        slide_pred, slide_ties = self._vote(slide_scores)
        metrics: Dict[str, float] = OrderedDict()
        rows_table = []
        for level, key, prd, tgt in (('patch', 'accuracy', pred, target),
                                     ('slide', 'slide_accuracy', slide_pred,
                                      slide_target)):
            per_class = _per_class_accuracy(prd, tgt, num_classes)
            metrics[key] = float((prd == tgt).mean()) * 100
            metrics.update(
                (f'{key}_{c}', value) for c, value in per_class.items())
            metrics[f'mean_{key}'] = float(np.mean(list(per_class.values())))
            rows_table.append((level, len(tgt), metrics[key],
                               metrics[f'mean_{key}'], per_class))
        metrics['slide_ties'] = int(slide_ties.sum())
        self._log_table(rows_table, num_classes)
        if metrics['slide_ties']:
            print_log(
                f"{metrics['slide_ties']} slide vote(s) were ties, given to "
                f'the {self.tie} tied class',
                logger='current')
        if self.output_dir is not None:
            self._save_predictions(results, scores, pred, list(slide_rows),
                                   slide_rows, slide_scores, slide_pred,
                                   slide_target)
        return metrics

    def _save_predictions(self, results: List[dict], scores: np.ndarray,
                          pred: np.ndarray, slide_ids: List[str],
                          slide_rows: Dict[str, List[int]],
                          slide_scores: np.ndarray, slide_pred: np.ndarray,
                          slide_target: np.ndarray) -> None:
        """Write ``patch_predictions.csv`` and ``slide_predictions.csv``."""
        score_names = [f'score_{c}' for c in range(scores.shape[1])]

        def table(header: list, rows: list) -> str:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator='\n')
            writer.writerow(header)
            writer.writerows(rows)
            return text.getvalue()

        patches = [[
            r['img_path'], r['slide_id'], r['gt_label'],
            int(label), *(f'{v:.6f}' for v in score)
        ] for r, label, score in zip(results, pred, scores)]
        write_atomic(
            osp.join(self.output_dir, 'patch_predictions.csv'),
            table(['img_path', 'slide_id', 'gt_label', 'pred_label'] +
                  score_names, patches))
        slides = []
        for slide_id, label, predicted, score in zip(slide_ids, slide_target,
                                                     slide_pred, slide_scores):
            slides.append([
                slide_id,
                len(slide_rows[slide_id]),
                int(label),
                int(predicted), *(f'{v:.6f}' for v in score)
            ])
        write_atomic(
            osp.join(self.output_dir, 'slide_predictions.csv'),
            table(['slide_id', 'num_patches', 'gt_label', 'pred_label'] +
                  score_names, slides))
        print_log(
            f'patch and slide predictions saved to {self.output_dir}',
            logger='current')

    def _log_table(self, rows: list, num_classes: int) -> None:
        classes = (self.dataset_meta or {}).get('classes')
        if not classes or len(classes) != num_classes:
            classes = [str(c) for c in range(num_classes)]
        table = PrettyTable(
            field_names=['level', 'count', 'accuracy', 'mean'] +
            [f'{c}: {name}' for c, name in enumerate(classes)])
        for level, count, acc, mean, per_class in rows:
            table.add_row([level, count, f'{acc:.2f}', f'{mean:.2f}'] + [
                f'{per_class[c]:.2f}' if c in per_class else '-'
                for c in range(num_classes)
            ])
        print_log(
            'patch accuracy and slide accuracy (soft voting), %:\n' +
            table.get_string(),
            logger='current')
