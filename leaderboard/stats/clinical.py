"""Bootstrap and significance for classification and survival tasks, whose metrics (AUROC, the
C-index, …) are values of the whole test set, not means of per-case values.

Public API:

- :func:`clinical_bootstrap` ``(predictions_by_algorithm, truth, *, metric, config, n_boot,
  seed, ties, task, cases, samples)`` → :class:`~leaderboard.stats.bootstrap.TaskBootstrap`,
  as :func:`leaderboard.stats.detection_bootstrap` returns (``from_bootstrap`` in
  ``leaderboard.ranked`` turns it into ranks, intervals and the blob plot).
- :func:`percentile_intervals` ``(bootstrap, *, level=0.95)``: per-algorithm percentile
  confidence intervals of the metric.
- :func:`paired_bootstrap_test` ``(scores_a, scores_b)`` and :func:`paired_bootstrap_pvalues`
  ``(scores)``: two-sided p-values of a difference of the metric on the same resamples.
- :func:`delong_test` ``(prob_a, prob_b, label)``, :func:`delong_covariance` ``(probs,
  label)``, :func:`delong_pvalues` ``(probs, label)``: DeLong's test for correlated AUROCs.
- :func:`significance_matrix` ``(pvalues, full_scores, *, larger_better, alpha, adjust)``: the
  K × K "row significantly better than column" matrix that
  :func:`leaderboard.stats.plots.significance_map` draws (pass rows and columns in rank order).

The bootstrap draws the (B, n) case multiplicities once (:mod:`leaderboard.stats.resamples`:
the same seed, task name and cases give the same resamples as every other bootstrap) and
computes each algorithm's metric on all B resamples at once through the metric's
``weights=`` (``scorers.clinical.set_metric_many``), where a case drawn w times counts as w
copies; survival metrics share the censoring distribution of each resample across algorithms.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import erfc

from leaderboard.stats.bootstrap import TaskBootstrap, resampled_ranking, task_resamples
from leaderboard.stats.errors import StatsInputError
from leaderboard.stats.methods import ADJUSTMENTS, TaskRanking, adjust_pvalues
from leaderboard.stats.resamples import ResampleTable
from leaderboard.stats.ties import Ties, check_ties, rank_scores
from scorers.clinical import set_metric_many


def _reordered(arrays: Mapping[str, np.ndarray], order: np.ndarray, n: int, what: str) -> dict:
    result = {}
    for key, values in arrays.items():
        values = np.asarray(values)
        if values.ndim == 0 or values.shape[0] != n:
            raise StatsInputError(f"{what} {key}: expected {n} values, one per case")
        result[key] = values[order]
    return result


def clinical_bootstrap(
    predictions_by_algorithm: Mapping[str, Mapping[str, np.ndarray]],
    truth: Mapping[str, np.ndarray],
    *,
    metric: str,
    config: Mapping,
    n_boot: int = 1000,
    seed: int | None = None,
    ties: Ties = "min",
    task: str = "task",
    cases: Sequence[str] | None = None,
    samples: ResampleTable | None = None,
) -> TaskBootstrap:
    """Rank algorithms by the set-level ``metric`` and bootstrap that ranking over cases.

    ``predictions_by_algorithm``: algorithm name → its predictions as
    ``scorers.clinical.set_metric`` takes them (``{"probability": (n,)}``, ``{"risk": (n,)}``,
    …); ``truth``: ``{"label": (n,)}`` or ``{"time", "event"}``; ``config``: the metric's
    settings (``threshold``, ``tau``, ``times``). ``cases``: the n case names in the arrays'
    order (default "000001", … in that order); resamples are drawn over the cases sorted by name
    from ``seed`` and ``task`` (or taken from ``samples``), so passing the task's key and case
    names makes the resample table reproducible by any other bootstrap. Scores, the aggregate
    and its intervals are the metric itself; ranks use its registry direction and ``ties``, an
    undefined value (NaN) ranking last. Bad input to the metric raises
    ``scorers.errors.InputError``.
    """
    # Imported here: the registry pulls in the segmentation kernels, which the rest of this
    # library (and its command line) never needs.
    from scorers.metrics import larger_is_better

    check_ties(ties)
    if not predictions_by_algorithm:
        raise StatsInputError(f"task {task}: no algorithm to rank")
    if not truth:
        raise StatsInputError(f"task {task}: no ground truth")
    try:
        larger = larger_is_better(metric)
    except KeyError:
        raise StatsInputError(f"metric {metric!r}: not a registered metric") from None
    n = len(next(iter(truth.values())))
    cases = [f"{j + 1:06d}" for j in range(n)] if cases is None else [str(c) for c in cases]
    if len(cases) != n or len(set(cases)) != n:
        raise StatsInputError(f"task {task}: expected {n} distinct case names")
    order = np.argsort(np.asarray(cases, dtype=str), kind="stable")
    truth = _reordered(truth, order, n, "ground truth")
    algorithms = tuple(sorted(predictions_by_algorithm))
    predictions = {name: _reordered(predictions_by_algorithm[name], order, n,
                                    f"algorithm {name}: prediction")
                   for name in algorithms}
    resamples = task_resamples(task, [cases[j] for j in order], n_boot=n_boot, seed=seed,
                               samples=samples)
    listed = [predictions[name] for name in algorithms]
    full_scores = set_metric_many(metric, listed, truth, config=config)
    scores = set_metric_many(metric, listed, truth, config=config, weights=resamples.counts)
    full = TaskRanking(task=task, algorithms=algorithms, score=full_scores,
                       rank=rank_scores(full_scores, larger_better=larger, ties=ties),
                       n_cases=n)
    return resampled_ranking(full, resamples, scores,
                             rank_scores(scores, larger_better=larger, ties=ties),
                             aggregate=metric, full_aggregate=full_scores, aggregates=scores)


def percentile_intervals(bootstrap: TaskBootstrap, *, level: float = 0.95
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of each algorithm's metric: the (1 − level)/2 and
    (1 + level)/2 quantiles (linear interpolation, R's type 7) of its B resample values, NaN
    resamples left out ((K,) low and high; NaN when every resample is NaN). At 0.95 these are
    ``bootstrap.summary()``'s ``aggregate_q025`` and ``aggregate_q975``."""
    if not 0.0 < level < 1.0:
        raise StatsInputError(f"level {level!r}: expected a number in (0, 1)")
    values = bootstrap.aggregates
    low, high = np.full(values.shape[1], np.nan), np.full(values.shape[1], np.nan)
    for k, column in enumerate(values.T):
        column = column[~np.isnan(column)]
        if len(column):
            low[k], high[k] = np.quantile(column, [(1 - level) / 2, (1 + level) / 2])
    return low, high


def paired_bootstrap_test(scores_a: np.ndarray, scores_b: np.ndarray) -> float:
    """Two-sided p-value for "algorithms a and b have the same metric", from their values on
    the same B resamples (paired: the differences d_b = a_b − b_b keep the resamples' shared
    cases). Inverting the percentile interval of d,

        p = min(1, 2 · (1 + min(#{d_b ≤ 0}, #{d_b ≥ 0})) / (B + 1)),

    the smallest 1 − level at which the percentile interval of d excludes 0, with the +1 of a
    Monte Carlo p-value (Davison & Hinkley 1997, ch. 4) so that it is never 0. Resamples where
    either value is NaN are left out; p = 1 when none is left."""
    return float(paired_bootstrap_pvalues(np.column_stack([scores_a, scores_b]))[0, 1])


def paired_bootstrap_pvalues(scores: np.ndarray) -> np.ndarray:
    """:func:`paired_bootstrap_test` for every pair of columns of ``scores`` (B, K): a symmetric
    (K, K) matrix, 1 on the diagonal."""
    scores = np.asarray(scores, dtype=np.float64)
    k = scores.shape[1]
    pvalues = np.ones((k, k))
    for i in range(k):
        d = scores[:, i, None] - scores[:, i + 1:]
        valid = ~np.isnan(d)
        below = (valid & (d <= 0)).sum(axis=0)
        above = (valid & (d >= 0)).sum(axis=0)
        count = valid.sum(axis=0)
        p = np.where(count > 0, np.minimum(1.0, 2.0 * (1 + np.minimum(below, above))
                                           / (count + 1)), 1.0)
        pvalues[i, i + 1:] = p
        pvalues[i + 1:, i] = p
    return pvalues


@dataclass(frozen=True)
class DeLongResult:
    """DeLong's test of two correlated AUROCs: ``auc`` (2,), their ``covariance`` (2, 2),
    ``z`` = (auc_a − auc_b) / √(var_a + var_b − 2 cov_ab) and the two-sided ``p_value``."""

    auc: np.ndarray
    covariance: np.ndarray
    z: float
    p_value: float


def _label(label, n: int) -> np.ndarray:
    label = np.asarray(label)
    if label.shape != (n,) or not np.isin(label, (0, 1)).all():
        raise StatsInputError(f"label: expected {n} values, each 0 or 1")
    label = label.astype(bool)
    if label.sum() < 2 or (~label).sum() < 2:
        raise StatsInputError("label: DeLong's test needs at least two positive and two "
                              "negative cases")
    return label


def _midranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1 … n along the last axis, tied values sharing the mean of their ranks."""
    order = np.argsort(values, axis=-1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=-1)
    position = np.broadcast_to(np.arange(values.shape[-1]), values.shape)
    starts = np.ones(values.shape, dtype=bool)
    starts[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=-1)
    ends = np.ones(values.shape, dtype=bool)
    ends[..., :-1] = starts[..., 1:]
    last = np.flip(np.minimum.accumulate(np.flip(np.where(ends, position, values.shape[-1]),
                                                 axis=-1), axis=-1), axis=-1)
    ranks = np.empty(values.shape)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=-1)
    return ranks


def delong_covariance(probs: np.ndarray, label) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs (K,) of the K rows of ``probs`` (K, n) against the 0/1 ``label`` (n,), and their
    (K, K) covariance by DeLong, DeLong & Clarke-Pearson (Biometrics 1988;44:837–45), computed
    with midranks as Sun & Xu (IEEE SPL 2014;21:1389–93), O(K·n log n):

        V10_i = (R_i − R⁺_i) / n₋  for each positive i,   V01_j = 1 − (R_j − R⁻_j) / n₊,

    R the midrank among all cases, R⁺/R⁻ among the positives/negatives (V10_i is the share of
    negatives scored below positive i, ties ½; V01_j the share of positives above negative j);
    AUC = mean V10, S = S10 / n₊ + S01 / n₋ with S10, S01 the sample covariances (n − 1) of the
    V10 and V01 across algorithms."""
    probs = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    if not np.isfinite(probs).all():
        raise StatsInputError("probabilities: expected finite numbers")
    label = _label(label, probs.shape[1])
    positives, negatives = probs[:, label], probs[:, ~label]
    m, n = positives.shape[1], negatives.shape[1]
    overall = _midranks(probs)
    v10 = (overall[:, label] - _midranks(positives)) / n
    v01 = 1.0 - (overall[:, ~label] - _midranks(negatives)) / m
    covariance = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return v10.mean(axis=1), covariance


def _z_and_p(auc: np.ndarray, covariance: np.ndarray, i: int, j: int) -> tuple[float, float]:
    variance = covariance[i, i] + covariance[j, j] - 2 * covariance[i, j]
    difference = auc[i] - auc[j]
    if variance <= 0:  # identical placements: equal AUCs, no evidence of a difference
        return (0.0, 1.0) if difference == 0 else (float(np.sign(difference) * np.inf), 0.0)
    z = difference / np.sqrt(variance)
    return float(z), float(erfc(abs(z) / np.sqrt(2)))


def delong_test(prob_a, prob_b, label) -> DeLongResult:
    """DeLong's test of AUROC(a) = AUROC(b) on the same cases: z from
    :func:`delong_covariance`, two-sided p = 2 Φ(−|z|) = erfc(|z| / √2) (as pROC's
    ``roc.test(method="delong")``). A zero variance gives p = 1 for equal AUCs, 0 otherwise."""
    auc, covariance = delong_covariance(np.vstack([prob_a, prob_b]), label)
    z, p = _z_and_p(auc, covariance, 0, 1)
    return DeLongResult(auc=auc, covariance=covariance, z=z, p_value=p)


def delong_pvalues(probs: np.ndarray, label) -> np.ndarray:
    """DeLong's two-sided p-values for every pair of rows of ``probs`` (K, n): symmetric (K, K),
    1 on the diagonal."""
    auc, covariance = delong_covariance(probs, label)
    k = len(auc)
    pvalues = np.ones((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            pvalues[i, j] = pvalues[j, i] = _z_and_p(auc, covariance, i, j)[1]
    return pvalues


def significance_matrix(pvalues: np.ndarray, full_scores: np.ndarray, *, larger_better: bool,
                        alpha: float = 0.05, adjust: str = "none") -> np.ndarray:
    """(K, K) booleans: ``[i, j]`` True when algorithm i is significantly better than j — the
    two-sided p-value of the pair (:func:`paired_bootstrap_pvalues` or :func:`delong_pvalues`),
    adjusted over the K(K − 1)/2 pairs ("none", "holm", "bonferroni", as R's ``p.adjust``), is
    at most ``alpha`` and i's full-data metric is the better one. Reorder rows and columns by
    rank before drawing it with :func:`leaderboard.stats.plots.significance_map`."""
    if adjust not in ADJUSTMENTS:
        raise StatsInputError(f"adjust {adjust!r}: expected one of {', '.join(ADJUSTMENTS)}")
    pvalues = np.asarray(pvalues, dtype=np.float64)
    full_scores = np.asarray(full_scores, dtype=np.float64)
    k = len(full_scores)
    upper = np.triu_indices(k, 1)
    adjusted = np.ones((k, k))
    adjusted[upper] = adjust_pvalues(pvalues[upper], adjust)
    adjusted.T[upper] = adjusted[upper]
    oriented = full_scores if larger_better else -full_scores
    with np.errstate(invalid="ignore"):
        better = oriented[:, None] > oriented[None, :]
    better |= ~np.isnan(oriented)[:, None] & np.isnan(oriented)[None, :]
    return (adjusted <= alpha) & better & ~np.eye(k, dtype=bool)
