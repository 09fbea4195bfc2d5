# Copyright (c) OpenMMLab. All rights reserved.
from unittest.mock import patch

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmvlsm.evaluation import SlideAccuracy
from mmvlsm.registry.classification import METRICS


@pytest.fixture(autouse=True)
def classification_scope():
    """Build in the classification scope, as a config with
    ``default_scope='mmvlsm_cls'`` does, whatever scope another test set."""
    with DefaultScope.overwrite_default_scope('mmvlsm_cls'):
        yield


PRINT_LOG = 'mmvlsm.evaluation.metrics.slide_accuracy.print_log'

# (slide_id, label, pred_score); the patch prediction is the argmax.
PATCHES = [
    ('a', 0, [.7, .2, .1]),  # right
    ('a', 0, [.1, .6, .3]),  # wrong (1): slide a's patches vote differently
    ('a', 0, [.5, .1, .4]),  # right; a's mean [.433, .3, .267] -> 0, right
    ('b', 1, [.4, .5, .1]),  # right
    ('b', 1, [.6, .05, .35]),  # wrong (0); b's mean [.5, .275, .225] -> 0
    ('c', 2, [.1, .1, .8]),  # right; c -> 2, right
    ('d', 0, [.2, .3, .5]),  # wrong (2); d -> 2, wrong
    ('e', 1, [0., .51, .49]),  # right
    ('e', 1, [0., .51, .49]),  # right
    ('e', 1, [.9, 0., .1]),  # wrong (0); e's mean [.3, .34, .36] -> 2, wrong
    # although the majority of e's patches is right (soft, not hard, voting)
]
# Patches: 6/10 right; class 0: 2/4, class 1: 3/5, class 2: 1/1.
# Slides: a, c right of a-e; class 0: a right, d wrong; class 1: b, e
# wrong; class 2: c right.
EXPECTED = dict(
    accuracy=60.0,
    accuracy_0=50.0,
    accuracy_1=60.0,
    accuracy_2=100.0,
    mean_accuracy=70.0,
    slide_accuracy=40.0,
    slide_accuracy_0=50.0,
    slide_accuracy_1=0.0,
    slide_accuracy_2=100.0,
    mean_slide_accuracy=50.0,
    slide_ties=0)


def make_samples(patches):
    samples = []
    for slide_id, label, score in patches:
        sample = DataSample(metainfo=dict(slide_id=slide_id))
        sample.set_gt_label(label).set_pred_score(torch.tensor(score))
        samples.append(sample.to_dict())
    return samples


def run_metric(patches, batch_size=3, metric=None):
    metric = metric or SlideAccuracy()
    samples = make_samples(patches)
    for start in range(0, len(samples), batch_size):
        metric.process({}, samples[start:start + batch_size])
    return metric


def assert_expected(metrics):
    assert list(metrics) == list(EXPECTED)
    for key, value in EXPECTED.items():
        assert metrics[key] == pytest.approx(value), key


def test_hand_computed():
    metric = run_metric(PATCHES)
    with patch(PRINT_LOG) as log:
        metrics = metric.compute_metrics(metric.results)
    assert_expected(metrics)
    table = log.call_args[0][0]
    assert 'soft voting' in table
    assert '| slide |   5   |  40.00   | 50.00 |' in table


def test_saved_predictions(tmp_path):
    out = tmp_path / 'preds'
    metric = run_metric(PATCHES, metric=SlideAccuracy(output_dir=str(out)))
    with patch(PRINT_LOG):
        metric.compute_metrics(metric.results)
    patches = (out / 'patch_predictions.csv').read_text().splitlines()
    assert patches[0] == ('img_path,slide_id,gt_label,pred_label,score_0,'
                          'score_1,score_2')
    assert patches[2] == ',a,0,1,0.100000,0.600000,0.300000'
    assert len(patches) == 1 + len(PATCHES)
    slides = (out / 'slide_predictions.csv').read_text().splitlines()
    assert slides[1:] == [
        'a,3,0,0,0.433333,0.300000,0.266667',
        'b,2,1,0,0.500000,0.275000,0.225000',
        'c,1,2,2,0.100000,0.100000,0.800000',
        'd,1,0,2,0.200000,0.300000,0.500000',
        'e,3,1,2,0.300000,0.340000,0.360000'
    ]


def test_evaluator_with_class_names():
    evaluator = Evaluator(METRICS.build(dict(type='SlideAccuracy')))
    evaluator.dataset_meta = dict(classes=('well', 'moderate', 'poor'))
    samples = []
    for slide_id, label, score in PATCHES:
        sample = DataSample(metainfo=dict(slide_id=slide_id))
        samples.append(
            sample.set_gt_label(label).set_pred_score(torch.tensor(score)))
    with patch(PRINT_LOG) as log:
        evaluator.process(samples[:4])
        evaluator.process(samples[4:])
        metrics = evaluator.evaluate(len(samples))
    assert_expected(metrics)
    assert '2: poor' in log.call_args[0][0]


def test_slides_split_across_ranks():
    # Rank 0 gets the even patches, rank 1 the odd ones (as mmengine's
    # DefaultSampler deals them), so slides a, b and e are split. mmengine
    # gathers both ranks' results and computes once on their union.
    rank0 = run_metric(PATCHES[0::2], batch_size=2)
    rank1 = run_metric(PATCHES[1::2], batch_size=2)
    with patch(PRINT_LOG):
        gathered = rank0.compute_metrics(rank0.results + rank1.results)
        single = run_metric(PATCHES).compute_metrics(
            run_metric(PATCHES).results)
    assert gathered == pytest.approx(single)
    assert_expected(gathered)
    # Scoring each rank on its own would be wrong: slide a has only its
    # wrong patch on rank 1.
    with patch(PRINT_LOG):
        alone = rank1.compute_metrics(rank1.results)
    assert alone['slide_accuracy_0'] == 0.0


def test_class_without_slides_is_left_out_of_the_means():
    # No patch (so no slide) of class 1. The means average the classes
    # present, 0 (x right, y wrong: 50%) and 2 (100%): 75, not 50 (a 0 for
    # class 1) nor NaN. CITE's evaluation cannot score such a set: mmcls
    # 0.25's accuracy divides by the class's count of zero.
    metric = run_metric([('x', 0, [.8, .2, 0.]), ('y', 0, [.1, .1, .8]),
                         ('z', 2, [.1, .1, .8])])
    with patch(PRINT_LOG) as log:
        metrics = metric.compute_metrics(metric.results)
    assert 'accuracy_1' not in metrics and 'slide_accuracy_1' not in metrics
    assert metrics['mean_slide_accuracy'] == 75.0
    assert metrics['mean_accuracy'] == 75.0
    assert metrics['slide_accuracy'] == pytest.approx(200 / 3)
    assert '| slide |   3   |  66.67   | 75.00 | 50.00 |  -   | 100.00 |' in (
        log.call_args_list[0][0][0])


# Slide t: its patches disagree, and their mean [.5, .5, 0] ties classes 0
# and 1 (both columns add the same two numbers); slide u ties all three.
TIES = [('t', 1, [.6, .4, 0.]), ('t', 1, [.4, .6, 0.]),
        ('u', 2, [1 / 3, 1 / 3, 1 / 3]), ('v', 0, [.7, .2, .1])]


@pytest.mark.parametrize(
    'tie, slide_preds, accuracy, slide_accuracy',
    [
        # t -> 0 and u -> 0 (wrong); the tied patch of u -> 0 (wrong).
        ('lowest', [0, 0, 0], 50.0, 100 / 3),
        # t -> 1 and u -> 2 (right); the tied patch -> 2 (right).
        ('highest', [1, 2, 0], 75.0, 100.0),
    ])
def test_tied_votes(tmp_path, tie, slide_preds, accuracy, slide_accuracy):
    metric = run_metric(
        TIES, metric=SlideAccuracy(tie=tie, output_dir=str(tmp_path)))
    with patch(PRINT_LOG) as log:
        metrics = metric.compute_metrics(metric.results)
    assert metrics['slide_ties'] == 2
    assert metrics['accuracy'] == pytest.approx(accuracy)
    assert metrics['slide_accuracy'] == pytest.approx(slide_accuracy)
    assert f'2 slide vote(s) were ties, given to the {tie}' in (
        log.call_args_list[1][0][0])
    slides = (tmp_path / 'slide_predictions.csv').read_text().splitlines()
    assert [int(line.split(',')[3]) for line in slides[1:]] == slide_preds
    patches = (tmp_path / 'patch_predictions.csv').read_text().splitlines()
    assert patches[3].split(',')[3] == ('0' if tie == 'lowest' else '2')


def test_lowest_is_what_cites_evaluation_picks():
    """CITE scores with mmcls 0.25's accuracy: the float32 slide means
    through ``torch.topk(1)`` on the CPU, which keeps the first of tied
    classes (for 3 classes), as ``tie='lowest'`` does."""
    metric = run_metric(TIES)
    with patch(PRINT_LOG):
        metric.compute_metrics(metric.results)
    scores = torch.stack([r['pred_score'] for r in metric.results])
    means = torch.stack([scores[:2].mean(0), scores[2], scores[3]])
    upstream = means.float().topk(1, dim=1).indices.flatten()
    ours, ties = metric._vote(means.double().numpy())
    assert upstream.tolist() == ours.tolist() == [0, 0, 0]
    assert ties.tolist() == [True, True, False]
    with pytest.raises(ValueError, match="tie should be 'lowest' or"):
        SlideAccuracy(tie='random')


def test_errors():
    metric = run_metric([('a', 0, [.9, .1]), ('a', 1, [.2, .8])])
    with pytest.raises(ValueError, match=r"Slide 'a' .*labels \[0, 1\]"):
        metric.compute_metrics(metric.results)
    metric = run_metric([('a', 2, [.9, .1])])
    with pytest.raises(ValueError, match='gt_label 2 is outside'):
        metric.compute_metrics(metric.results)
    with pytest.raises(ValueError, match='no results'):
        SlideAccuracy().compute_metrics([])
    sample = DataSample().set_gt_label(0).set_pred_score(torch.ones(2) / 2)
    with pytest.raises(KeyError, match="'slide_id'.*meta_keys"):
        SlideAccuracy().process({}, [sample.to_dict()])
    sample = DataSample(metainfo=dict(slide_id='a')).set_gt_label(0)
    with pytest.raises(KeyError, match="'pred_score'"):
        SlideAccuracy().process({}, [sample.to_dict()])
