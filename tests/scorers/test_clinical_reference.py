"""Classification metrics against scikit-learn 1.9 on random cases with tied scores, with case
multiplicities checked against the same cases repeated."""

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from scorers import clinical
from tests.scorers.clinical_cases import binary_case, expand

TOL = 1e-9
EPS = np.finfo(np.float64).eps  # scikit-learn 1.9's clipping of log_loss


def _references(prob, label, threshold=0.5):
    called = prob >= threshold
    return {
        "auroc": skm.roc_auc_score(label, prob),
        "average_precision": skm.average_precision_score(label, prob),
        "brier": skm.brier_score_loss(label, prob),
        "log_loss": skm.log_loss(label, prob, labels=[0, 1]),
        "sensitivity": skm.recall_score(label, called),
        "specificity": skm.recall_score(label, called, pos_label=0),
        "balanced_accuracy": skm.balanced_accuracy_score(label, called),
    }


def _ours(prob, label, weights=None, threshold=0.5):
    return {
        "auroc": clinical.auroc(prob, label, weights=weights),
        "average_precision": clinical.average_precision(prob, label, weights=weights),
        "brier": clinical.brier(prob, label, weights=weights),
        "log_loss": clinical.log_loss(prob, label, eps=EPS, weights=weights),
        "sensitivity": clinical.sensitivity(prob, label, threshold=threshold, weights=weights),
        "specificity": clinical.specificity(prob, label, threshold=threshold, weights=weights),
        "balanced_accuracy": clinical.balanced_accuracy(prob, label, threshold=threshold,
                                                        weights=weights),
    }


@pytest.mark.parametrize("seed", range(30))
def test_binary_metrics_equal_scikit_learn_with_multiplicities(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 300))
    prob, label, weights = binary_case(rng, n, levels=int(rng.integers(3, 30)))
    weights[:2] = 1  # both classes drawn
    threshold = float(rng.choice([0.3, 0.5, 0.62]))
    index = expand(weights)
    expected = _references(prob[index], label[index], threshold)
    for name, value in _ours(prob, label, weights, threshold).items():
        assert value == pytest.approx(expected[name], abs=TOL), name
    for name, value in _ours(prob, label, threshold=threshold).items():
        assert value == pytest.approx(_references(prob, label, threshold)[name], abs=TOL), name


def test_multiplicities_equal_repeated_cases_for_every_resample():
    rng = np.random.default_rng(7)
    prob, label, _ = binary_case(rng, 150)
    resamples = rng.multinomial(150, np.full(150, 1 / 150), size=40).astype(float)
    batched = _ours(prob, label, resamples)
    for b, counts in enumerate(resamples):
        index = expand(counts)
        repeated = _ours(prob[index], label[index])
        for name, values in batched.items():
            assert values.shape == (40,)
            assert values[b] == pytest.approx(repeated[name], abs=TOL, nan_ok=True), name


def test_log_loss_clips_as_scikit_learn():
    label = np.array([1, 0, 1, 0, 1])
    prob = np.array([0.0, 1.0, 1.0, 0.0, 0.5])
    assert clinical.log_loss(prob, label, eps=EPS) == pytest.approx(skm.log_loss(label, prob),
                                                                  rel=1e-12)
    # the default eps = 1e-15 is scikit-learn <= 1.2's
    assert clinical.log_loss(prob, label) == pytest.approx(
        (2 * -np.log(1e-15) + -np.log(0.5)) / 5, rel=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_macro_auroc_equals_scikit_learn_ovr(seed):
    rng = np.random.default_rng(100 + seed)
    n, classes = int(rng.integers(30, 250)), int(rng.integers(3, 6))
    probs = rng.integers(1, 8, (n, classes)).astype(float)
    probs /= probs.sum(axis=1, keepdims=True)
    label = rng.integers(0, classes, n)
    label[:classes] = np.arange(classes)
    weights = rng.integers(0, 3, n)
    weights[:classes] = 1
    index = expand(weights)
    expected = skm.roc_auc_score(label[index], probs[index], multi_class="ovr", average="macro")
    assert clinical.macro_auroc_ovr(probs, label, weights=weights) == pytest.approx(expected,
                                                                                   abs=TOL)


def test_undefined_values_are_nan():
    prob = np.array([0.2, 0.4, 0.9])
    negatives = np.zeros(3)
    assert np.isnan(clinical.auroc(prob, negatives))
    assert np.isnan(clinical.average_precision(prob, negatives))
    assert np.isnan(clinical.sensitivity(prob, negatives, threshold=0.5))
    assert clinical.specificity(prob, negatives, threshold=0.5) == pytest.approx(2 / 3)
    assert np.isnan(clinical.balanced_accuracy(prob, negatives, threshold=0.5))
    assert np.isnan(clinical.auroc(prob, [0, 1, 1], weights=[1, 0, 0]))
    assert np.isnan(clinical.macro_auroc_ovr(np.eye(3)[[0, 1, 1]], [0, 1, 1]))
    values = clinical.auroc(prob, [0, 1, 1], weights=[[1, 1, 1], [0, 1, 1]])
    assert values[0] == 1.0 and np.isnan(values[1])


def test_only_positives_give_average_precision_one():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = skm.average_precision_score([1, 1, 1], [0.1, 0.5, 0.5])
    assert clinical.average_precision([0.1, 0.5, 0.5], [1, 1, 1]) == expected == 1.0


def test_threshold_is_inclusive():
    assert clinical.sensitivity([0.5, 0.49], [1, 1], threshold=0.5) == 0.5
    assert clinical.specificity([0.5, 0.49], [0, 0], threshold=0.5) == 0.5
