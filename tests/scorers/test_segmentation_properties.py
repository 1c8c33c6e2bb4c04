"""Properties of score_case that hold for any masks (hypothesis): identity, symmetry, bounds,
translation, padding (crop) and spacing-scale invariance, per-label independence."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scorers.metrics import SEGMENTATION, metric_names
from scorers.segmentation import score_case

METRICS = metric_names(SEGMENTATION)

SURFACES = st.sampled_from(["surfel", "voxel"])


@st.composite
def cases(draw, max_side=7):
    """(pred, ref, spacing, tolerance): two bool masks of one 2D/3D shape, both non-empty."""
    ndim = draw(st.sampled_from([2, 3]))
    shape = tuple(draw(st.integers(1, max_side)) for _ in range(ndim))
    masks = arrays(bool, shape).filter(lambda m: m.any())
    spacing = tuple(draw(st.floats(0.25, 4.0)) for _ in range(ndim))
    return draw(masks), draw(masks), spacing, draw(st.floats(0.0, 5.0))


def _score(pred, ref, spacing, tolerance, surface):
    return score_case(pred, ref, spacing_mm=spacing, labels=[1], nsd_tolerance_mm=tolerance,
                      surface=surface)[1]


def _same(a: dict, b: dict, rel: float = 1e-9) -> bool:
    return all(math.isclose(a[m], b[m], rel_tol=rel, abs_tol=1e-12) for m in METRICS)


@settings(max_examples=40, deadline=None)
@given(cases(), SURFACES)
def test_identical_masks_score_perfectly(case, surface):
    pred, _, spacing, tolerance = case
    assert _score(pred, pred, spacing, tolerance, surface) == {
        "dice": 1.0, "nsd": 1.0, "hd": 0.0, "hd95": 0.0, "assd": 0.0}


@settings(max_examples=40, deadline=None)
@given(cases(), SURFACES)
def test_every_metric_is_symmetric_and_bounded(case, surface):
    pred, ref, spacing, tolerance = case
    forward = _score(pred, ref, spacing, tolerance, surface)
    assert _same(forward, _score(ref, pred, spacing, tolerance, surface))
    assert 0 <= forward["dice"] <= 1 and 0 <= forward["nsd"] <= 1
    assert 0 <= forward["assd"] <= forward["hd"] and 0 <= forward["hd95"] <= forward["hd"]
    assert forward["hd"] <= math.hypot(*(n * s for n, s in zip(pred.shape, spacing,
                                                               strict=True)))


@settings(max_examples=40, deadline=None)
@given(cases(max_side=6), SURFACES, st.data())
def test_translation_and_padding_change_nothing(case, surface, data):
    pred, ref, spacing, tolerance = case
    before = [(data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))) for _ in pred.shape]
    moved = [np.pad(mask, before) for mask in (pred, ref)]
    assert _same(_score(pred, ref, spacing, tolerance, surface),
                 _score(*moved, spacing, tolerance, surface))


@settings(max_examples=40, deadline=None)
@given(cases(), SURFACES, st.sampled_from([0.25, 0.5, 2.0, 4.0]))
def test_nsd_is_unchanged_when_spacing_and_tolerance_scale_together(case, surface, factor):
    pred, ref, spacing, tolerance = case
    scaled_spacing = tuple(s * factor for s in spacing)
    base = _score(pred, ref, spacing, tolerance, surface)
    scaled = _score(pred, ref, scaled_spacing, tolerance * factor, surface)
    assert scaled["nsd"] == base["nsd"] and scaled["dice"] == base["dice"]
    for metric in ("hd", "hd95", "assd"):
        assert math.isclose(scaled[metric], base[metric] * factor, rel_tol=1e-6)


@settings(max_examples=25, deadline=None)
@given(cases(max_side=6), SURFACES)
def test_labels_of_a_label_map_are_scored_independently(case, surface):
    pred, ref, spacing, tolerance = case
    pred_map = np.where(pred, 3, np.where(ref, 9, 0)).astype(np.uint16)
    ref_map = np.where(ref, 3, 0).astype(np.uint16)
    got = score_case(pred_map, ref_map, spacing_mm=spacing, labels=[3, 9],
                     nsd_tolerance_mm={3: tolerance, 9: 1.0}, surface=surface)
    assert _same(got[3], _score(pred, ref, spacing, tolerance, surface))
    nan = float("nan")
    expected_9 = {"dice": 0.0, "nsd": 0.0, "hd": nan, "hd95": nan, "assd": nan}
    if not (ref & ~pred).any():
        expected_9 = {"dice": 1.0, "nsd": 1.0, "hd": 0.0, "hd95": 0.0, "assd": 0.0}
    assert str(got[9]) == str(expected_9)
