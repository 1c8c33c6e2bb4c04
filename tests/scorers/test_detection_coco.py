"""COCO AP: agreement with pycocotools' COCOeval (the reference) to 1e-9, and hand cases."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scorers.detection import evaluate_coco
from scorers.voc import AnnotatedImage, Box
from tests.references.detection import coco_reference
from tests.scorers.detection_fixtures import detections_from_rows, random_case


def assert_matches_pycocotools(ground_truth, detections):
    expected = coco_reference(ground_truth, detections)
    got = evaluate_coco(ground_truth, detections)
    for key in ("AP", "AP50", "AP75"):
        if expected[key] == -1:  # pycocotools' "no ground truth" sentinel
            assert math.isnan(got[key])
        else:
            assert got[key] == pytest.approx(expected[key], abs=1e-9), key


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), integer=st.booleans(),
       score_levels=st.sampled_from([None, 3, 10]), difficult_rate=st.sampled_from([0.0, 0.3]))
def test_agrees_with_pycocotools_on_random_cases(seed, integer, score_levels, difficult_rate):
    ground_truth, detections = random_case(
        np.random.default_rng(seed), integer=integer, score_levels=score_levels,
        difficult_rate=difficult_rate,
    )
    assert_matches_pycocotools(ground_truth, detections)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_agrees_with_pycocotools_beyond_100_detections_per_image(seed):
    ground_truth, detections = random_case(
        np.random.default_rng(seed), n_images=3, classes=("A", "B"), max_gt=12, min_det=240,
        max_det=260, score_levels=20,
    )
    groups = np.char.add(detections.image_ids.astype(str), detections.labels.astype(str))
    assert max(np.unique(groups, return_counts=True)[1]) > 100  # per image and class
    assert_matches_pycocotools(ground_truth, detections)


def test_agrees_with_pycocotools_when_many_boxes_crowd_one_image():
    # Many overlapping boxes of one class: the greedy order and "last box wins a tie" matter.
    rng = np.random.default_rng(5)
    boxes = tuple(Box(label="A", xmin=float(x), ymin=float(y), xmax=float(x + 10),
                      ymax=float(y + 10))
                  for x, y in rng.integers(0, 20, size=(30, 2)))
    ground_truth = {"only": AnnotatedImage(image_id="only", width=40, height=40, boxes=boxes)}
    rows = [("only", "A", float(np.round(rng.random(), 1)), float(x), float(y), float(x + w),
             float(y + w)) for x, y, w in rng.integers(0, 20, size=(150, 3)) + np.array([0, 0, 5])]
    assert_matches_pycocotools(ground_truth, detections_from_rows(rows))


def _image(name, *boxes):
    return AnnotatedImage(image_id=name, width=100, height=100, boxes=tuple(boxes))


def test_perfect_detections_score_one():
    ground_truth = {"a": _image("a", Box("A", 10, 10, 50, 50)),
                    "b": _image("b", Box("B", 0, 0, 20, 30), Box("A", 60, 60, 90, 80))}
    rows = [(name, box.label, 0.9, box.xmin, box.ymin, box.xmax, box.ymax)
            for name, image in ground_truth.items() for box in image.boxes]
    result = evaluate_coco(ground_truth, detections_from_rows(rows))
    assert result == pytest.approx({"AP": 1.0, "AP50": 1.0, "AP75": 1.0}, abs=1e-12)


def test_iou_of_0_6_counts_at_50_and_55_and_60_but_not_above():
    # Detection [10, 50] x [0, 10] against ground truth [0, 40] x [0, 10]: IoU = 30/50 = 0.6,
    # so it is a TP at thresholds 0.50, 0.55, 0.60 (3 of 10) with precision 1 at all recalls.
    ground_truth = {"a": _image("a", Box("A", 0, 0, 40, 10))}
    detections = detections_from_rows([("a", "A", 0.5, 10, 0, 50, 10)])
    result = evaluate_coco(ground_truth, detections)
    assert result["AP50"] == pytest.approx(1.0, abs=1e-12)  # COCOeval's eps in precision
    assert result["AP75"] == 0.0
    assert result["AP"] == pytest.approx(0.3, abs=1e-12)


def test_no_detections_scores_zero_and_no_ground_truth_is_nan():
    ground_truth = {"a": _image("a", Box("A", 0, 0, 40, 10))}
    assert evaluate_coco(ground_truth, detections_from_rows([]))["AP"] == 0.0
    empty = {"a": _image("a")}
    result = evaluate_coco(empty, detections_from_rows([("a", "A", 0.5, 0, 0, 9, 9)]))
    assert all(math.isnan(value) for value in result.values())


def test_difficult_boxes_are_ignored_not_missed():
    # A difficult box that nobody detects does not lower recall; a detection on it is not FP.
    ground_truth = {"a": _image("a", Box("A", 0, 0, 40, 40), Box("A", 50, 50, 90, 90, True))}
    only_easy = detections_from_rows([("a", "A", 0.9, 0, 0, 40, 40)])
    both = detections_from_rows([("a", "A", 0.9, 0, 0, 40, 40), ("a", "A", 0.95, 50, 50, 90, 90)])
    assert evaluate_coco(ground_truth, only_easy)["AP"] == pytest.approx(1.0, abs=1e-12)
    assert evaluate_coco(ground_truth, both)["AP"] == pytest.approx(1.0, abs=1e-12)
