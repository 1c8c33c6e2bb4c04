"""VocMatches: AP under image weights equals AP of the explicitly resampled data set."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scorers.boxes import Detections
from scorers.detection import evaluate_voc, match_voc
from scorers.voc import AnnotatedImage, Box
from tests.scorers.detection_fixtures import detections_from_rows, random_case


def resample(ground_truth, detections, weights):
    """The data set with image i repeated weights[i] times (copies renamed "name#k"); each
    detection's copies are adjacent in the file, as VocMatches assumes."""
    names = sorted(ground_truth)
    copies = {f"{name}#{k}": AnnotatedImage(image_id=f"{name}#{k}", width=1, height=1,
                                            boxes=ground_truth[name].boxes)
              for name, w in zip(names, weights, strict=True) for k in range(w)}
    times = dict(zip(names, weights, strict=True))
    rows = [(f"{image}#{k}", label, score, *box)
            for image, label, score, box in zip(detections.image_ids, detections.labels,
                                                detections.scores, detections.boxes, strict=True)
            for k in range(times[image])]
    return copies, detections_from_rows(rows)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), voc2007=st.booleans(),
       difficult_rate=st.sampled_from([0.0, 0.3]))
def test_weighted_ap_equals_ap_of_resampled_images(seed, voc2007, difficult_rate):
    rng = np.random.default_rng(seed)
    ground_truth, detections = random_case(rng, n_images=5, difficult_rate=difficult_rate)
    weights = rng.integers(0, 4, size=5)
    matches = match_voc(ground_truth, detections)
    got = matches.average_precision(image_weights=weights, voc2007=voc2007)
    expected = evaluate_voc(*resample(ground_truth, detections, weights), voc2007=voc2007)
    for name, value in zip(matches.classes, got, strict=True):
        if name in expected["per_class"]:
            assert value == pytest.approx(expected["per_class"][name], abs=1e-12)
        else:
            assert math.isnan(value)  # every image holding this class was drawn 0 times
    mean = matches.mean_average_precision(image_weights=weights, voc2007=voc2007)
    if expected["per_class"]:
        assert mean == pytest.approx(expected["mAP"], abs=1e-12)
    else:
        assert math.isnan(mean)


def test_unit_weights_reproduce_evaluate_voc():
    ground_truth, detections = random_case(np.random.default_rng(3), n_images=12,
                                           difficult_rate=0.2)
    matches = match_voc(ground_truth, detections)
    expected = evaluate_voc(ground_truth, detections)
    assert matches.mean_average_precision() == pytest.approx(expected["mAP"], abs=1e-15)
    assert matches.mean_average_precision(image_weights=np.ones(12, dtype=int)) == \
        pytest.approx(expected["mAP"], abs=1e-15)


def test_two_dimensional_weights_are_row_by_row():
    rng = np.random.default_rng(11)
    ground_truth, detections = random_case(rng, n_images=8)
    matches = match_voc(ground_truth, detections)
    weights = rng.multinomial(8, np.full(8, 1 / 8), size=30)
    batch = matches.average_precision(image_weights=weights)
    assert batch.shape == (30, len(matches.classes))
    for row, ap in zip(weights, batch, strict=True):
        np.testing.assert_array_equal(matches.average_precision(image_weights=row), ap)
    means = matches.mean_average_precision(image_weights=weights)
    assert means.shape == (30,)
    np.testing.assert_allclose(means, np.nanmean(batch, axis=1), rtol=0, atol=1e-15)


def test_class_absent_from_a_resample_is_left_out_of_its_mean():
    ground_truth = {
        "a": AnnotatedImage("a", 50, 50, (Box("A", 0, 0, 10, 10),)),
        "b": AnnotatedImage("b", 50, 50, (Box("B", 0, 0, 10, 10),)),
    }
    detections = detections_from_rows([("a", "A", 0.9, 0, 0, 10, 10),
                                       ("b", "B", 0.9, 30, 30, 40, 40)])
    matches = match_voc(ground_truth, detections)
    ap = matches.average_precision(image_weights=np.array([[2, 0], [0, 1], [1, 1]]))
    np.testing.assert_array_equal(ap, [[1.0, np.nan], [np.nan, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(
        matches.mean_average_precision(image_weights=np.array([[2, 0], [0, 1], [1, 1]])),
        [1.0, 0.0, 0.5])


@pytest.mark.parametrize("weights, message", [
    (np.ones(3), "shape"),
    (np.ones((2, 2, 2)), "shape"),
    (np.array([1.5, 1.0]), "whole"),
    (np.array([-1, 1]), "non-negative"),
])
def test_bad_weights_are_rejected(weights, message):
    ground_truth = {name: AnnotatedImage(name, 9, 9, (Box("A", 0, 0, 5, 5),)) for name in "ab"}
    matches = match_voc(ground_truth, Detections(image_ids=[], labels=[], scores=[],
                                                 boxes=np.zeros((0, 4))))
    with pytest.raises(ValueError, match=message):
        matches.average_precision(image_weights=weights)
