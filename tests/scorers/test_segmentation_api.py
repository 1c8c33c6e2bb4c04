"""score_case's contract: input validation, empty-mask rules, label handling, array layouts."""

import math

import numpy as np
import pytest

from scorers.errors import InputError
from scorers.segmentation import label_boxes, score_case
from tests.scorers.conftest import random_pair

PERFECT = {"dice": 1.0, "nsd": 1.0, "hd": 0.0, "hd95": 0.0, "assd": 0.0}


def _score(pred, ref, **options):
    options = {"spacing_mm": (1.0,) * pred.ndim, "labels": [1], "nsd_tolerance_mm": 1.0,
               **options}
    return score_case(pred, ref, **options)


@pytest.mark.parametrize("surface", ["surfel", "voxel"])
def test_empty_masks_follow_metrics_reloaded(surface):
    empty = np.zeros((6, 7, 8), np.uint8)
    full = empty.copy()
    full[2:4, 3:5, 1:6] = 1
    assert _score(empty, empty, surface=surface) == {1: PERFECT}
    for pred, ref in ((empty, full), (full, empty)):
        result = _score(pred, ref, surface=surface)[1]
        assert result["dice"] == 0.0 and result["nsd"] == 0.0
        assert all(math.isnan(result[m]) for m in ("hd", "hd95", "assd"))


def test_a_label_absent_from_both_is_perfect_and_others_are_scored():
    pred = np.zeros((10, 10), np.uint8)
    ref = pred.copy()
    pred[2:5, 2:5] = 1
    ref[3:6, 2:5] = 1
    result = _score(pred, ref, labels=[1, 2], nsd_tolerance_mm={1: 0.0, 2: 1.0})
    assert result[2] == PERFECT
    assert result[1]["dice"] == pytest.approx(2 * 6 / 18)
    assert result[1]["hd"] == 1.0


def test_values_outside_the_labels_and_label_zero():
    pred = np.array([[0, 1, 1], [7, 7, 0], [0, 0, 0]], np.int32)
    ref = np.array([[0, 1, 1], [0, 7, 0], [0, 0, 0]], np.int32)
    assert _score(pred, ref)[1] == PERFECT
    background = _score(pred, ref, labels=[0])[0]
    assert background["dice"] == pytest.approx(2 * 5 / (5 + 6))


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.uint16, np.int16,
                                   np.uint32, np.int32, np.uint64, np.int64])
def test_every_integer_dtype_gives_the_same_scores(dtype):
    pred, ref, spacing = random_pair(np.random.default_rng(4), 3)
    expected = _score(pred.astype(np.uint8), ref.astype(np.uint8), spacing_mm=spacing)
    assert _score(pred.astype(dtype), ref.astype(dtype), spacing_mm=spacing) == expected


def test_fortran_and_strided_arrays_give_the_same_scores():
    pred, ref, spacing = random_pair(np.random.default_rng(9), 3)
    expected = _score(pred.astype(np.uint8), ref.astype(np.uint8), spacing_mm=spacing)
    fortran = [np.asfortranarray(m.astype(np.uint8)) for m in (pred, ref)]
    assert _score(*fortran, spacing_mm=spacing) == expected
    strided = [np.repeat(m.astype(np.uint8), 2, axis=1)[:, ::2] for m in (pred, ref)]
    assert not strided[0].flags.c_contiguous and not strided[0].flags.f_contiguous
    assert _score(*strided, spacing_mm=spacing) == expected


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("last", [16, 17])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16])
def test_label_boxes_find_every_label_in_one_pass(order, last, dtype):
    volume = np.zeros((5, 6, last), dtype, order=order)
    volume[1, 2, 3] = 4
    volume[3, 5, last - 1] = 4
    volume[0:2, 0, 0:2] = 9
    volume[4, 4, 4] = 7
    boxes, counts = label_boxes(volume, (4, 9, 2))
    assert boxes[0].tolist() == [[1, 3], [2, 5], [3, last - 1]]
    assert boxes[1].tolist() == [[0, 1], [0, 0], [0, 1]]
    assert counts.tolist() == [2, 4, 0]
    assert boxes[2, 0, 0] > boxes[2, 0, 1]
    with_zero, zero_count = label_boxes(volume, (0, 7))
    assert zero_count.tolist() == [volume.size - 7, 1]
    assert with_zero[0].tolist() == [[0, 4], [0, 5], [0, last - 1]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pred": [[1, 0], [0, 1]]}, "prediction must be a numpy array"),
        ({"pred": np.full((3, 3), 0.5, np.float32)}, "prediction must hold integer labels"),
        ({"pred": np.full((3, 3), np.nan)}, "prediction must hold integer labels"),
        ({"pred": np.ones((3, 3), np.complex64)}, "prediction must hold integer labels"),
        ({"ref": np.ones((3,), np.uint8), "pred": np.ones((3,), np.uint8)}, "must be 2D or 3D"),
        ({"ref": np.ones((3, 4), np.uint8)}, "prediction shape (3, 3) does not match the "
                                             "reference (3, 4)"),
        ({"spacing_mm": (1.0,)}, "spacing_mm must be 2 finite positive numbers"),
        ({"spacing_mm": (1.0, 0.0)}, "spacing_mm must be 2 finite positive numbers"),
        ({"spacing_mm": (1.0, float("nan"))}, "finite positive"),
        ({"spacing_mm": "ab"}, "spacing_mm must be 2 numbers"),
        ({"labels": 1}, "labels must be a collection"),
        ({"labels": [1, 1]}, "labels must be distinct"),
        ({"labels": [1.5]}, "labels must be integers"),
        ({"labels": [True]}, "labels must be integers"),
        ({"labels": [0, 1 << 21]}, "within a range"),
        ({"nsd_tolerance_mm": -1.0}, "finite and ≥ 0"),
        ({"nsd_tolerance_mm": float("inf")}, "finite and ≥ 0"),
        ({"nsd_tolerance_mm": {2: 1.0}}, "no tolerance for labels [1]"),
        ({"nsd_tolerance_mm": "1"}, "must be a number"),
        ({"surface": "mesh"}, "surface must be one of"),
    ],
)
def test_invalid_input_raises_one_error_family(change, message):
    arguments = {"pred": np.ones((3, 3), np.uint8), "ref": np.ones((3, 3), np.uint8),
                 "spacing_mm": (1.0, 1.0), "labels": [1], "nsd_tolerance_mm": 1.0, **change}
    pred, ref = arguments.pop("pred"), arguments.pop("ref")
    with pytest.raises(InputError) as error:
        score_case(pred, ref, **arguments)
    assert message in str(error.value)


def test_no_labels_give_no_scores():
    volume = np.ones((2, 2), np.uint8)
    assert _score(volume, volume, labels=[]) == {}


def test_scoring_works_in_a_forked_child_after_the_parent_scored():
    import multiprocessing

    pred, ref, spacing = random_pair(np.random.default_rng(12), 3)
    _score(pred.astype(np.uint8), ref.astype(np.uint8), spacing_mm=spacing)
    child = multiprocessing.get_context("fork").Process(
        target=_score, args=(pred.astype(np.uint8), ref.astype(np.uint8)),
        kwargs={"spacing_mm": spacing})
    child.start()
    child.join(timeout=30)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0


def test_float_label_maps_with_whole_values_and_big_endian_arrays_are_accepted():
    ref = np.zeros((12, 10, 6), np.uint8)
    ref[2:8, 3:9, 1:5] = 1
    pred = np.roll(ref, 1, axis=0)
    expected = score_case(pred, ref, spacing_mm=(0.8, 0.8, 2.5), labels=[1],
                          nsd_tolerance_mm=1.0)
    as_float = score_case(pred.astype(np.float64), ref.astype(np.float32),
                          spacing_mm=(0.8, 0.8, 2.5), labels=[1], nsd_tolerance_mm=1.0)
    big_endian = score_case(pred.astype(">i2"), ref.astype(">u2"), spacing_mm=(0.8, 0.8, 2.5),
                            labels=[1], nsd_tolerance_mm=1.0)
    assert as_float == expected and big_endian == expected
