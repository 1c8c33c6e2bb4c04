"""PASCAL VOC AP: agreement with the VOC devkit reference on random cases, and the rules by hand."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scorers import detection
from scorers.detection import evaluate_voc, match_voc
from scorers.errors import InputError
from scorers.voc import AnnotatedImage, Box
from tests.references.detection import voc_reference
from tests.scorers.detection_fixtures import detections_from_rows, random_case


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), integer=st.booleans(), voc2007=st.booleans(),
       plus_one=st.booleans(), score_levels=st.sampled_from([None, 4]),
       difficult_rate=st.sampled_from([0.0, 0.3]), iou_threshold=st.sampled_from([0.5, 0.3, 0.7]))
def test_agrees_with_devkit_loop_on_random_cases(seed, integer, voc2007, plus_one, score_levels,
                                                 difficult_rate, iou_threshold):
    ground_truth, detections = random_case(
        np.random.default_rng(seed), integer=integer, score_levels=score_levels,
        difficult_rate=difficult_rate, classes=("A", "B", "E", "G", "X"),
    )
    expected = voc_reference(ground_truth, detections, iou_threshold=iou_threshold,
                             voc2007=voc2007, plus_one=plus_one)
    got = evaluate_voc(ground_truth, detections, iou_threshold=iou_threshold, voc2007=voc2007,
                       plus_one=plus_one)
    assert list(got["per_class"]) == list(expected)
    for name, value in expected.items():
        assert got["per_class"][name] == pytest.approx(value, abs=1e-12), name
    if expected:
        assert got["mAP"] == pytest.approx(np.mean(list(expected.values())), abs=1e-12)


def _image(name, *boxes, size=100):
    return AnnotatedImage(image_id=name, width=size, height=size, boxes=tuple(boxes))


def test_iou_exactly_at_threshold_is_a_true_positive():
    # +1 convention: ground truth 1..10 x 1..10 has 100 pixels; the detection 1..5 x 1..10
    # has 50, all inside, so IoU = 50 / 100 = 0.5 exactly (VOCevaldet.m: ovmax >= 0.5).
    ground_truth = {"a": _image("a", Box("A", 1, 1, 10, 10))}
    detections = detections_from_rows([("a", "A", 0.9, 1, 1, 5, 10)])
    assert evaluate_voc(ground_truth, detections)["mAP"] == 1.0
    assert evaluate_voc(ground_truth, detections, iou_threshold=0.51)["mAP"] == 0.0


def test_plus_one_convention_changes_iou():
    # Without +1: areas 81 and 36, IoU 36/81 < 0.5; with +1: 50/100 = 0.5.
    ground_truth = {"a": _image("a", Box("A", 1, 1, 10, 10))}
    detections = detections_from_rows([("a", "A", 0.9, 1, 1, 5, 10)])
    assert evaluate_voc(ground_truth, detections, plus_one=False)["mAP"] == 0.0


def test_duplicate_detection_is_a_false_positive():
    # Two detections of one box (TP, then FP), then the second box (TP at precision 2/3):
    # AP = 0.5 * 1 + 0.5 * 2/3.
    ground_truth = {"a": _image("a", Box("A", 0, 0, 20, 20), Box("A", 50, 50, 70, 70))}
    detections = detections_from_rows([
        ("a", "A", 0.9, 0, 0, 20, 20), ("a", "A", 0.8, 1, 1, 20, 20),
        ("a", "A", 0.7, 50, 50, 70, 70)])
    assert evaluate_voc(ground_truth, detections)["mAP"] == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_best_box_already_taken_makes_a_false_positive_even_if_another_box_fits():
    # Devkit rule: a detection goes to its highest-IoU box; if that one is taken it is a FP,
    # although the other box would pass the threshold.
    ground_truth = {"a": _image("a", Box("A", 0, 0, 99, 49), Box("A", 0, 20, 99, 69))}
    detections = detections_from_rows([
        ("a", "A", 0.9, 0, 0, 99, 49),   # takes box 1
        ("a", "A", 0.8, 0, 5, 99, 54),   # IoU 45/55 with box 1, 35/65 with box 2: FP
    ])
    assert evaluate_voc(ground_truth, detections)["per_class"]["A"] == pytest.approx(0.5)


def test_equal_best_iou_goes_to_the_first_box():
    # The second detection overlaps both boxes with IoU 90/110; VOCevaldet.m keeps the first
    # maximum (box 1), which is already taken, so it is a FP although box 2 is free.
    ground_truth = {"a": _image("a", Box("A", 0, 0, 9, 9), Box("A", 2, 0, 11, 9))}
    detections = detections_from_rows([("a", "A", 0.9, 0, 0, 9, 9),
                                       ("a", "A", 0.8, 1, 0, 10, 9)])
    assert evaluate_voc(ground_truth, detections)["mAP"] == 0.5


def test_difficult_boxes_neither_count_nor_penalize():
    ground_truth = {"a": _image("a", Box("A", 0, 0, 20, 20), Box("A", 50, 50, 70, 70, True))}
    hit_difficult_first = detections_from_rows([
        ("a", "A", 0.95, 50, 50, 70, 70), ("a", "A", 0.9, 0, 0, 20, 20)])
    assert evaluate_voc(ground_truth, hit_difficult_first)["mAP"] == 1.0
    assert evaluate_voc(ground_truth, detections_from_rows([]))["mAP"] == 0.0


def test_classes_without_ground_truth_are_left_out():
    ground_truth = {"a": _image("a", Box("A", 0, 0, 20, 20), Box("B", 50, 50, 70, 70, True)),
                    "b": _image("b")}
    detections = detections_from_rows([
        ("a", "A", 0.9, 0, 0, 20, 20), ("a", "B", 0.9, 50, 50, 70, 70),
        ("b", "Z", 0.9, 0, 0, 10, 10)])
    assert evaluate_voc(ground_truth, detections) == {"mAP": 1.0, "per_class": {"A": 1.0}}
    assert match_voc(ground_truth, detections).classes == ("A",)


def test_no_ground_truth_gives_nan():
    result = evaluate_voc({"a": _image("a")}, detections_from_rows([]))
    assert math.isnan(result["mAP"]) and result["per_class"] == {}


def test_ties_keep_file_order():
    # Equal scores: the FP listed first is ranked first, so precision at the TP is 1/2.
    ground_truth = {"a": _image("a", Box("A", 0, 0, 20, 20))}
    miss, hit = ("a", "A", 0.5, 60, 60, 80, 80), ("a", "A", 0.5, 0, 0, 20, 20)
    fp_first = detections_from_rows([miss, hit])
    tp_first = detections_from_rows([hit, miss])
    assert evaluate_voc(ground_truth, fp_first)["mAP"] == 0.5
    assert evaluate_voc(ground_truth, tp_first)["mAP"] == 1.0


def test_eleven_point_interpolation_by_hand():
    # 2 boxes; ranked TP, FP, TP: recall 0.5 at precision 1, recall 1 at precision 2/3.
    # 11-point: levels 0..0.5 (6 levels) -> 1, levels 0.6..1 (5 levels) -> 2/3.
    ground_truth = {"a": _image("a", Box("A", 0, 0, 20, 20), Box("A", 50, 50, 70, 70))}
    detections = detections_from_rows([
        ("a", "A", 0.9, 0, 0, 20, 20), ("a", "A", 0.8, 30, 30, 40, 40),
        ("a", "A", 0.7, 50, 50, 70, 70)])
    result = evaluate_voc(ground_truth, detections, voc2007=True)
    assert result["mAP"] == pytest.approx((6 + 5 * 2 / 3) / 11)


def test_detection_on_unknown_image_is_an_input_error():
    with pytest.raises(InputError, match="unknown image 'zz'"):
        evaluate_voc({"a": _image("a", Box("A", 0, 0, 5, 5))},
                     detections_from_rows([("zz", "A", 0.5, 0, 0, 5, 5)]))
    with pytest.raises(InputError, match=r"detections: unknown image 'a\.dcm': image ids are "
                                         r"SOP Instance UIDs without \.dcm; drop the suffix"):
        evaluate_voc({"a": _image("a", Box("A", 0, 0, 5, 5))},
                     detections_from_rows([("a.dcm", "A", 0.5, 0, 0, 5, 5)]))


def test_iou_threshold_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="iou_threshold"):
        match_voc({"a": _image("a")}, detections_from_rows([]), iou_threshold=0.0)


def test_pairs_built_in_small_chunks_give_the_same_result(monkeypatch):
    ground_truth, detections = random_case(np.random.default_rng(8), n_images=10, max_gt=6,
                                           max_det=20, difficult_rate=0.2)
    monkeypatch.setattr(detection, "_PAIRS_PER_CHUNK", 3)
    got = evaluate_voc(ground_truth, detections)["per_class"]
    assert got == pytest.approx(voc_reference(ground_truth, detections), abs=1e-12)
