"""The metric registry: entries as the docs define them, and score_case computing exactly the
metrics asked for (surface distances only when one of them needs them)."""

import math

import numpy as np
import pytest

from scorers import metrics as registry
from scorers.errors import InputError
from scorers.metrics import DETECTION, SEGMENTATION, metric, metric_names
from scorers.segmentation import score_case
from tests.scorers.conftest import blob


def test_built_in_metrics_and_their_rules():
    assert metric_names(SEGMENTATION) == ["dice", "nsd", "hd", "hd95", "assd"]
    assert metric_names(DETECTION) == ["mAP", "AP", "AP50", "AP75"]
    assert [m.name for m in registry.metrics(SEGMENTATION) if m.overall] == ["dice", "nsd"]
    assert [m.larger_better for m in registry.metrics(SEGMENTATION)] == [True, True] + [False] * 3
    assert {m.unit for m in registry.metrics(SEGMENTATION) if not m.larger_better} == {"mm"}
    for name in ("dice", "nsd"):
        assert (metric(name).empty_value(0, 0), metric(name).empty_value(0, 5)) == (1.0, 0.0)
    for name in ("hd", "hd95", "assd"):
        assert metric(name).empty_value(0, 0) == 0.0 and math.isnan(metric(name).empty_value(3, 0))
        assert metric(name).missing_value is None
    geometry = {"shape": [10, 20, 5], "spacing_mm": [1.0, 0.5, 4.0]}
    assert metric("hd").worst_value(worst_distance_mm=None, geometry=geometry) == \
        pytest.approx(math.sqrt(10**2 + 10**2 + 20**2))
    assert metric("assd").worst_value(worst_distance_mm=7.5, geometry=geometry) == 7.5
    assert metric("dice").worst_value(worst_distance_mm=7.5, geometry=geometry) == 0.0
    assert [registry.metric_label(n) for n in ("dice", "hd95", "gone")] == ["Dice", "HD95 (mm)",
                                                                           "gone"]


def test_score_case_computes_the_metrics_asked_for(monkeypatch):
    rng = np.random.default_rng(2)
    ref = blob(rng, (24, 24, 12), smooth=3.0).astype(np.uint8)
    pred = blob(rng, (24, 24, 12), smooth=3.0).astype(np.uint8)
    kwargs = {"spacing_mm": (1.0, 1.0, 2.0), "labels": [1], "nsd_tolerance_mm": 1.0}
    everything = score_case(pred, ref, **kwargs)[1]
    calls = []
    original = registry.surface_distances
    monkeypatch.setattr(registry, "surface_distances",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    assert score_case(pred, ref, metrics=["dice"], **kwargs)[1] == {"dice": everything["dice"]}
    assert calls == []  # Dice needs no surface distances
    assert score_case(pred, ref, metrics=["hd95", "nsd"], **kwargs)[1] == {
        "hd95": everything["hd95"], "nsd": everything["nsd"]}
    assert calls == [1]  # computed once for both
    with pytest.raises(InputError, match=r"unknown segmentation metrics \['mAP'\]"):
        score_case(pred, ref, metrics=["mAP"], **kwargs)


def test_entries_are_checked_when_made():
    with pytest.raises(ValueError, match="identifier"):
        registry.Metric("two words", "Two words", larger_better=True, kinds=(DETECTION,))
    with pytest.raises(ValueError, match="kinds"):
        registry.Metric("x", "X", larger_better=True, kinds=("regression",))
    with pytest.raises(ValueError, match="worst"):
        registry.Metric("x", "X", larger_better=True, kinds=(DETECTION,), worst="infinity")
