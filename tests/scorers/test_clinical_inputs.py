"""Bad input to the clinical metrics, the set_metric entry point, and the clinical CSV readers:
each refused with a message naming what is wrong and where."""

import numpy as np
import pytest

from scorers import clinical, survival
from scorers.clinical_csv import max_csv_bytes, read_predictions, read_reference
from scorers.errors import InputError


@pytest.mark.parametrize(("call", "message"), [
    (lambda: clinical.auroc([0.1, 1.2], [0, 1]), r"probability: value at index 1 is not a prob"),
    (lambda: clinical.auroc([0.1, np.nan], [0, 1]), r"probability: value at index 1 is not a fin"),
    (lambda: clinical.auroc([[0.1]], [0]), r"probability: expected a 1-D array"),
    (lambda: clinical.auroc([], []), r"probability: no case"),
    (lambda: clinical.auroc(["a", "b"], [0, 1]), r"probability: expected numbers"),
    (lambda: clinical.auroc([0.1, 0.2], [0, 2]), r"label: value at index 1 is not 0 or 1"),
    (lambda: clinical.auroc([0.1, 0.2], [0, 1, 1]), r"label: expected 2 cases, got 3"),
    (lambda: clinical.auroc([0.1, 0.2], [0, 1], weights=[1, -1]),
     r"weights: expected finite non-negative"),
    (lambda: clinical.auroc([0.1, 0.2], [0, 1], weights=[[1, 1, 1]]),
     r"weights: expected shape \(2,\) or \(B, 2\)"),
    (lambda: clinical.sensitivity([0.1], [1], threshold=1.5), r"threshold 1.5: expected"),
    (lambda: clinical.sensitivity([0.1], [1], threshold=True), r"threshold True: expected"),
    (lambda: clinical.log_loss([0.1], [1], eps=0.7), r"eps 0.7: expected"),
    (lambda: clinical.macro_auroc_ovr([[0.5], [0.5]], [0, 0]), r"at least 2 classes"),
    (lambda: clinical.macro_auroc_ovr([[0.5, 0.5]], [2]), r"label: value at index 0 is not a "
                                                            r"class index 0 … 1"),
    (lambda: survival.harrell_c([1, 2], [1, -2], [1, 0]), r"time: value at index 1 is negative"),
    (lambda: survival.harrell_c([1, 2], [1, 2], [1, 0.5]), r"event: value at index 1 is not 0 or"),
    (lambda: survival.harrell_c([1, np.inf], [1, 2], [1, 0]), r"risk: value at index 1 is not a"),
    (lambda: survival.uno_c([1, 2], [1, 2], [1, 0], tau=-1), r"tau -1: expected a positive"),
    (lambda: survival.cumulative_dynamic_auc([1, 2], [1, 2], [1, 0], times=[2]),
     r"within the follow-up of the test set, \[1, 2\)"),
    (lambda: survival.cumulative_dynamic_auc([1, 2], [1, 2], [1, 0], times=[]),
     r"times: expected at least one"),
    (lambda: survival.integrated_brier([[0.5, 0.4]] * 3, [1, 2, 3], [1, 0, 1], times=[2, 1]),
     r"at least two strictly increasing"),
    (lambda: survival.integrated_brier([[0.5, 0.4, 0.3]] * 3, [1, 2, 3], [1, 0, 1],
                                       times=[1, 2]), r"survival: expected 3 rows and 2 columns"),
    (lambda: survival.integrated_brier([[0.5, 1.4]] * 3, [1, 2, 3], [1, 0, 1], times=[1, 2]),
     r"survival: value at index \(0, 1\) is not a probability"),
])
def test_bad_input_is_refused_with_its_reason(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_set_metric_dispatches_every_registered_metric():
    from scorers.metrics import metric_names

    rng = np.random.default_rng(1)
    prob, label = rng.random(40), np.r_[0, 1, rng.integers(0, 2, 38)]
    probs = rng.random((40, 3))
    classes = np.r_[0, 1, 2, rng.integers(0, 3, 37)]
    time, event = rng.integers(1, 20, 40).astype(float), np.r_[1, rng.integers(0, 2, 39)]
    time[-1], event[-1] = 30.0, 0
    risk, curves = rng.random(40), np.sort(rng.random((40, 2)), axis=1)[:, ::-1]
    config = {"threshold": 0.4, "tau": 15.0, "times": [5.0, 10.0]}
    expected = {
        "auroc": clinical.auroc(prob, label),
        "average_precision": clinical.average_precision(prob, label),
        "balanced_accuracy": clinical.balanced_accuracy(prob, label, threshold=0.4),
        "sensitivity": clinical.sensitivity(prob, label, threshold=0.4),
        "specificity": clinical.specificity(prob, label, threshold=0.4),
        "log_loss": clinical.log_loss(prob, label),
        "brier": clinical.brier(prob, label),
        "macro_auroc": clinical.macro_auroc_ovr(probs, classes),
        "c_index": survival.harrell_c(risk, time, event),
        "uno_c": survival.uno_c(risk, time, event, tau=15.0),
        "td_auc": survival.cumulative_dynamic_auc(risk, time, event, times=[5.0, 10.0])[1],
        "integrated_brier": survival.integrated_brier(curves, time, event, times=[5.0, 10.0]),
    }
    assert set(expected) == set(metric_names("classification") + metric_names("survival"))
    for name, value in expected.items():
        if name == "macro_auroc":
            predictions, truth = {"probabilities": probs}, {"label": classes}
        elif name == "integrated_brier":
            predictions, truth = {"survival": curves}, {"time": time, "event": event}
        elif name in ("c_index", "uno_c", "td_auc"):
            predictions, truth = {"risk": risk}, {"time": time, "event": event}
        else:
            predictions, truth = {"probability": prob}, {"label": label}
        assert clinical.set_metric(name, predictions, truth, config=config) == value, name
        batched = clinical.set_metric(name, predictions, truth, config=config,
                                      weights=np.ones((3, 40)))
        np.testing.assert_allclose(batched, value, rtol=1e-12)


def test_set_metric_names_what_is_missing():
    with pytest.raises(InputError, match="metric uno_c: needs setting 'tau'"):
        clinical.set_metric("uno_c", {"risk": [1, 2]}, {"time": [1, 2], "event": [1, 0]},
                            config={})
    with pytest.raises(InputError, match="metric auroc: needs prediction 'probability'"):
        clinical.set_metric("auroc", {"risk": [1, 2]}, {"label": [0, 1]}, config={})
    with pytest.raises(InputError, match="'dice': not a classification or survival metric"):
        clinical.set_metric("dice", {}, {}, config={})


CASES = ["c1", "c2", "c3"]


def _write(tmp_path, text, name="f.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_predictions_in_case_order(tmp_path):
    path = _write(tmp_path, "egfr_probability,case\n0.5,c3\n\n1,c1\n0.25,c2\n")
    read = read_predictions(path, cases=CASES, columns=["egfr_probability"], name="pred.csv")
    np.testing.assert_array_equal(read["egfr_probability"], [1.0, 0.25, 0.5])
    path = _write(tmp_path, "\ufeffcase,risk\nc1,-3e2\nc2,4\nc3,0\n")
    assert read_predictions(path, cases=CASES, columns=["risk"], name="p")["risk"][0] == -300


@pytest.mark.parametrize(("text", "message"), [
    ("case,prob\nc1,0.5\n", r"pred.csv row 1: expected the header case,probability"),
    ("case,probability\nc1,0.5\nc2,0.5\nc1,0.5\n",
     r"pred.csv row 4, column case: case 'c1' appears twice \(first in row 2\)"),
    ("case,probability\nc1,0.5\nc9,0.5\n", r"pred.csv row 3, column case: 'c9' is not a test"),
    ("case,probability\nc1,0.5\nc2,1.5\nc3,0\n",
     r"pred.csv row 3, column probability: '1.5' is not a probability in \[0, 1\]"),
    ("case,probability\nc1,nan\n", r"pred.csv row 2, column probability: expected a decimal"),
    ("case,probability\nc1,1e999\n", r"pred.csv row 2, column probability: number '1e999' is"),
    ("case,probability\nc1,0.5,7\n", r"pred.csv row 2: expected 2 fields"),
    ("case,probability\nc1,0.5\nc3,0.5\n", r"pred.csv: no row for case 'c2'"),
    ("case,probability\n,0.5\n", r"pred.csv row 2, column case: is empty"),
])
def test_bad_predictions_name_row_and_column(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        read_predictions(_write(tmp_path, text), cases=CASES, columns=["probability"],
                         name="pred.csv")


def test_oversized_predictions_are_refused_before_reading(tmp_path):
    path = _write(tmp_path, "case,probability\n" + "c1,0.5\n" * 100_000)
    assert path.stat().st_size > max_csv_bytes(3, 1)
    with pytest.raises(InputError, match=r"pred.csv: larger than the \d+-byte limit"):
        read_predictions(path, cases=CASES, columns=["probability"], name="pred.csv")
    path = _write(tmp_path, "case,probability\n" + "\n" * 500 + "c1,0.5\n")
    with pytest.raises(InputError, match="more than 106 rows"):
        read_predictions(path, cases=CASES, columns=["probability"], name="pred.csv")


def test_read_reference_labels_and_survival(tmp_path):
    path = _write(tmp_path, "case,label\nc1,mutant\nc2,wild\nc3,mutant\n")
    read = read_reference(path, cases=CASES, columns=["label"], name="labels.csv",
                          classes=["wild", "mutant"])
    np.testing.assert_array_equal(read["label"], [1, 0, 1])
    path = _write(tmp_path, "case,time,event\nc1,3.5,1\nc2,0,0\nc3,12,1\n")
    read = read_reference(path, cases=CASES, columns=["time", "event"], name="labels.csv")
    np.testing.assert_array_equal(read["time"], [3.5, 0, 12])
    np.testing.assert_array_equal(read["event"], [1, 0, 1])


@pytest.mark.parametrize(("text", "columns", "message"), [
    ("case,label\nc1,mutant\nc2,other\nc3,wild\n", ["label"],
     r"labels.csv row 3, column label: expected one of the classes wild, mutant"),
    ("case,time,event\nc1,-1,1\n", ["time", "event"],
     r"labels.csv row 2, column time: a time must not be negative"),
    ("case,time,event\nc1,1,2\n", ["time", "event"],
     r"labels.csv row 2, column event: expected 0 \(censored\) or 1 \(event\), got '2'"),
])
def test_bad_reference_names_row_and_column(tmp_path, text, columns, message):
    classes = ["wild", "mutant"] if columns == ["label"] else None
    with pytest.raises(InputError, match=message):
        read_reference(_write(tmp_path, text), cases=CASES, columns=columns, name="labels.csv",
                       classes=classes)


@pytest.mark.parametrize("name", ["c_index", "uno_c", "td_auc", "integrated_brier", "auroc"])
def test_set_metric_many_equals_one_algorithm_at_a_time(name):
    rng = np.random.default_rng(4)
    n = 60
    time, event = rng.integers(1, 15, n).astype(float), rng.integers(0, 2, n)
    time[-1], event[-1] = 20.0, 0
    truth = {"time": time, "event": event, "label": event}
    config = {"tau": 10.0, "times": [4.0, 8.0], "threshold": 0.5}
    listed = [{"risk": np.round(rng.random(n), 1), "probability": rng.random(n),
               "survival": np.sort(rng.random((n, 2)), axis=1)[:, ::-1]} for _ in range(3)]
    weights = rng.integers(0, 3, (5, n)).astype(float)
    many = clinical.set_metric_many(name, listed, truth, config=config, weights=weights)
    assert many.shape == (5, 3)
    for k, predictions in enumerate(listed):
        one = clinical.set_metric(name, predictions, truth, config=config, weights=weights)
        np.testing.assert_allclose(many[:, k], one, rtol=0, atol=1e-14)
    full = clinical.set_metric_many(name, listed, truth, config=config)
    assert full.shape == (3,)
