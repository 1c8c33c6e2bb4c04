"""leaderboard.stats.clinical: the bootstrap of set-level metrics against a loop over resamples,
DeLong's test against a slow implementation from its definition, the paired bootstrap test and
the significance matrix."""

import numpy as np
import pytest
from scipy.stats import norm

from leaderboard.stats.clinical import (
    clinical_bootstrap,
    delong_covariance,
    delong_pvalues,
    delong_test,
    paired_bootstrap_pvalues,
    paired_bootstrap_test,
    percentile_intervals,
    significance_matrix,
)
from leaderboard.stats.errors import StatsInputError
from leaderboard.stats.ties import rank_scores
from scorers import clinical


def _classification(seed, n=80, k=4):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    predictions = {
        f"algo{a}": {"probability": np.clip(np.round(label * (a + 1) / 5 + rng.random(n) * 0.7,
                                                     1), 0, 1)}
        for a in range(k)
    }
    return predictions, {"label": label}


def _survival(seed, n=90, k=3):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 25, n).astype(float)
    event = (rng.random(n) > 0.6).astype(int)
    time[-1], event[-1] = 40.0, 0
    predictions = {f"m{a}": {"risk": np.round(-time * a / 10 + rng.normal(size=n), 1)}
                   for a in range(k)}
    return predictions, {"time": time, "event": event}


@pytest.mark.parametrize(("metric", "data", "config"), [
    ("auroc", _classification, {}),
    ("balanced_accuracy", _classification, {"threshold": 0.5}),
    ("log_loss", _classification, {}),
    ("c_index", _survival, {}),
    ("uno_c", _survival, {"tau": 20.0}),
])
def test_bootstrap_equals_a_loop_over_resamples(metric, data, config):
    predictions, truth = data(3)
    boot = clinical_bootstrap(predictions, truth, metric=metric, config=config, n_boot=25,
                              seed=11, ties="min")
    assert boot.algorithms == tuple(sorted(predictions))
    counts = boot.resamples.counts
    assert counts.shape == (25, len(next(iter(truth.values()))))
    for b in range(25):
        index = np.repeat(np.arange(counts.shape[1]), counts[b].astype(int))
        expected = [
            clinical.set_metric(metric, {k: v[index] for k, v in predictions[a].items()},
                                {k: v[index] for k, v in truth.items()}, config=config)
            for a in boot.algorithms
        ]
        np.testing.assert_allclose(boot.scores[b], expected, rtol=0, atol=1e-12)
    larger = metric != "log_loss"
    np.testing.assert_array_equal(boot.ranks, rank_scores(boot.scores, larger_better=larger))
    full = [clinical.set_metric(metric, predictions[a], truth, config=config)
            for a in boot.algorithms]
    np.testing.assert_allclose(boot.full.score, full, rtol=0, atol=1e-15)
    assert boot.aggregate == metric
    summary = boot.summary()
    low, high = percentile_intervals(boot)
    np.testing.assert_allclose(low, summary.aggregate_q025)
    np.testing.assert_allclose(high, summary.aggregate_q975)
    assert (low <= high).all()


def test_bootstrap_is_reproducible_and_independent_of_case_order():
    predictions, truth = _classification(5)
    n = len(truth["label"])
    cases = [f"case_{j:03d}" for j in range(n)]
    first = clinical_bootstrap(predictions, truth, metric="auroc", config={}, n_boot=50, seed=2,
                               ties="min", task="egfr", cases=cases)
    order = np.random.default_rng(0).permutation(n)
    shuffled = clinical_bootstrap(
        {a: {"probability": p["probability"][order]} for a, p in predictions.items()},
        {"label": truth["label"][order]}, metric="auroc", config={}, n_boot=50, seed=2,
        ties="min", task="egfr", cases=[cases[j] for j in order])
    np.testing.assert_array_equal(first.scores, shuffled.scores)
    replayed = clinical_bootstrap(predictions, truth, metric="auroc", config={}, n_boot=1,
                                  seed=None, ties="min", task="egfr", cases=cases,
                                  samples=first.samples)
    np.testing.assert_array_equal(first.scores, replayed.scores)


def test_bootstrap_refuses_bad_input():
    predictions, truth = _classification(1)
    with pytest.raises(StatsInputError, match="no algorithm to rank"):
        clinical_bootstrap({}, truth, metric="auroc", config={}, n_boot=5, seed=1, ties="min")
    with pytest.raises(StatsInputError, match="algorithm algo0: prediction probability: "
                                              "expected 80 values"):
        clinical_bootstrap({"algo0": {"probability": np.ones(3)}}, truth, metric="auroc",
                           config={}, n_boot=5, seed=1, ties="min")
    with pytest.raises(StatsInputError, match="metric 'auc': not a registered metric"):
        clinical_bootstrap(predictions, truth, metric="auc", config={}, n_boot=5, seed=1,
                           ties="min")
    with pytest.raises(StatsInputError, match="ties 'max'"):
        clinical_bootstrap(predictions, truth, metric="auroc", config={}, n_boot=5, seed=1,
                           ties="max")


def test_survival_curves_bootstrap_smaller_is_better():
    _, truth = _survival(8, k=2)
    n = len(truth["time"])
    rng = np.random.default_rng(1)
    curves = {f"m{a}": {"survival": np.sort(rng.random((n, 3)), axis=1)[:, ::-1]}
              for a in range(2)}
    boot = clinical_bootstrap(curves, truth, metric="integrated_brier",
                              config={"times": [5.0, 10.0, 15.0]}, n_boot=10, seed=4,
                              ties="min")
    np.testing.assert_array_equal(boot.full.rank, rank_scores(boot.full.score,
                                                              larger_better=False))


# --- DeLong ----------------------------------------------------------------------------------

def _delong_by_definition(probs, label):
    """DeLong et al. 1988 as written: ψ(X, Y) = 1 if X > Y, ½ if X = Y, 0 otherwise; the
    structural components V10(X_i) = mean_j ψ(X_i, Y_j), V01(Y_j) = mean_i ψ(X_i, Y_j); θ̂ the
    mean of either; S10[r, s] = Σ_i (V10_r(X_i) − θ̂_r)(V10_s(X_i) − θ̂_s) / (m − 1), S01 alike;
    S = S10 / m + S01 / n."""
    positives = [i for i in range(len(label)) if label[i] == 1]
    negatives = [j for j in range(len(label)) if label[j] == 0]
    m, n, k = len(positives), len(negatives), len(probs)

    def psi(x, y):
        return 1.0 if x > y else 0.5 if x == y else 0.0

    v10 = [[sum(psi(probs[r][i], probs[r][j]) for j in negatives) / n for i in positives]
           for r in range(k)]
    v01 = [[sum(psi(probs[r][i], probs[r][j]) for i in positives) / m for j in negatives]
           for r in range(k)]
    theta = [sum(v) / m for v in v10]
    s10 = [[sum((v10[r][i] - theta[r]) * (v10[s][i] - theta[s]) for i in range(m)) / (m - 1)
            for s in range(k)] for r in range(k)]
    s01 = [[sum((v01[r][j] - theta[r]) * (v01[s][j] - theta[s]) for j in range(n)) / (n - 1)
            for s in range(k)] for r in range(k)]
    covariance = [[s10[r][s] / m + s01[r][s] / n for s in range(k)] for r in range(k)]
    return np.array(theta), np.array(covariance)


@pytest.mark.parametrize("seed", range(12))
def test_delong_equals_the_definition(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(10, 70)), int(rng.integers(2, 5))
    label = rng.integers(0, 2, n)
    label[:4] = (0, 0, 1, 1)
    probs = np.round((label * rng.random() + rng.random((k, n))) / 2, int(rng.integers(1, 3)))
    auc, covariance = delong_covariance(probs, label)
    expected_auc, expected_cov = _delong_by_definition(probs.tolist(), label.tolist())
    np.testing.assert_allclose(auc, expected_auc, rtol=0, atol=1e-12)
    np.testing.assert_allclose(covariance, expected_cov, rtol=0, atol=1e-12)
    for r in range(k):
        assert auc[r] == pytest.approx(clinical.auroc(probs[r], label), abs=1e-12)
    result = delong_test(probs[0], probs[1], label)
    variance = expected_cov[0, 0] + expected_cov[1, 1] - 2 * expected_cov[0, 1]
    z = (expected_auc[0] - expected_auc[1]) / np.sqrt(variance)
    assert result.z == pytest.approx(z, abs=1e-9)
    assert result.p_value == pytest.approx(2 * norm.sf(abs(z)), abs=1e-9)
    pvalues = delong_pvalues(probs, label)
    assert pvalues[0, 1] == pvalues[1, 0] == pytest.approx(result.p_value, abs=1e-15)
    assert (np.diag(pvalues) == 1).all()


def test_delong_of_identical_predictions_is_one():
    label = np.array([0, 1, 0, 1, 1])
    prob = np.array([0.1, 0.8, 0.3, 0.7, 0.2])
    result = delong_test(prob, prob, label)
    assert result.p_value == 1.0 and result.z == 0.0


def test_delong_needs_two_cases_per_class():
    with pytest.raises(StatsInputError, match="at least two positive and two negative"):
        delong_test([0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0, 1, 1])
    with pytest.raises(StatsInputError, match="each 0 or 1"):
        delong_test([0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0, 1, 2])


# --- paired bootstrap test and significance ---------------------------------------------------

def test_paired_bootstrap_test_formula():
    a = np.array([0.8, 0.7, 0.9, 0.75, 0.85, 0.95, np.nan])
    b = np.array([0.6, 0.72, 0.7, 0.75, 0.6, 0.6, 0.5])
    # valid d: 0.2, -0.02, 0.2, 0, 0.25, 0.35; #(d <= 0) = 2, #(d >= 0) = 5, B = 6
    assert paired_bootstrap_test(a, b) == pytest.approx(2 * (1 + 2) / 7)
    assert paired_bootstrap_test(np.ones(99) + 1, np.ones(99)) == pytest.approx(2 / 100)
    assert paired_bootstrap_test(np.full(3, np.nan), np.ones(3)) == 1.0
    matrix = paired_bootstrap_pvalues(np.column_stack([a, b, b]))
    assert matrix[0, 1] == matrix[1, 0] == pytest.approx(2 * 3 / 7)
    assert matrix[1, 2] == 1.0


def test_significance_matrix_orients_and_adjusts():
    pvalues = np.array([[1, 0.01, 0.04], [0.01, 1, 0.5], [0.04, 0.5, 1]])
    full = np.array([0.9, 0.7, 0.8])
    superior = significance_matrix(pvalues, full, larger_better=True, alpha=0.05)
    assert superior.tolist() == [[False, True, True], [False, False, False],
                                 [False, False, False]]
    holm = significance_matrix(pvalues, full, larger_better=True, alpha=0.05, adjust="holm")
    assert holm.tolist() == [[False, True, False], [False, False, False], [False, False, False]]
    smaller = significance_matrix(pvalues, full, larger_better=False, alpha=0.05)
    assert smaller.tolist() == [[False, False, False], [True, False, False],
                                [True, False, False]]
    with pytest.raises(StatsInputError, match="adjust 'sidak'"):
        significance_matrix(pvalues, full, larger_better=True, adjust="sidak")


def test_bootstrap_feeds_the_significance_matrix():
    predictions, truth = _classification(9, n=200, k=3)
    boot = clinical_bootstrap(predictions, truth, metric="auroc", config={}, n_boot=200,
                              seed=3, ties="min")
    pvalues = paired_bootstrap_pvalues(boot.scores)
    superior = significance_matrix(pvalues, boot.full.score, larger_better=True)
    best = int(np.argmax(boot.full.score))
    worst = int(np.argmin(boot.full.score))
    assert superior[best, worst] and not superior[worst, best]
    probs = np.vstack([predictions[a]["probability"] for a in boot.algorithms])
    delong = significance_matrix(delong_pvalues(probs, truth["label"]), boot.full.score,
                                 larger_better=True)
    assert delong[best, worst]
