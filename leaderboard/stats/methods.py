"""The three ranking schemes of challengeR 1.0.5, per task, on full data or on resamples.

Every scheme is computed from case multiplicities ``counts`` (B resamples × n cases; the full
data is one resample with every case once), so the bootstrap re-runs exactly the code that
ranks the leaderboard. The schemes, each registered in :mod:`leaderboard.stats.registry` with
its label, direction and page sentence (docs/ranking.md works an example of each):

- **aggregate-then-rank** (``aggregate-mean``, ``aggregate-median``): the mean or median of each
  algorithm's values, ranked (larger or smaller better) — challengeR's ``aggregateThenRank``.
- **rank-then-aggregate**: per case, the algorithms are ranked (missing → worst rank, as
  challengeR's ``rankNA2``); the score is the mean of those ranks, ranked ascending —
  challengeR's ``rankThenAggregate(FUN=mean)``.
- **test-then-rank**: for every ordered pair a paired one-sided Wilcoxon signed-rank test on the
  cases both have (:mod:`leaderboard.stats.wilcoxon`), p-values adjusted over all K(K−1) tests
  of the task (none, Holm, Bonferroni), "i beats j" when the adjusted p ≤ α; the score is the
  share of the other K−1 algorithms beaten, ranked descending — challengeR's ``testThenRank``.

Missing values follow ``RankingConfig.na``: a number replaces them; ``"drop"`` removes them
(a warning is issued); ``"worst"`` makes a missing value worse than every observed value
(−inf where larger is better, +inf otherwise — so a mean with a missing value is the worst
possible) except in rank-then-aggregate, where it is challengeR's missing-value rank.
"""

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from leaderboard.stats.aggregates import weighted_mean, weighted_median
from leaderboard.stats.errors import DroppedCasesWarning, StatsInputError
from leaderboard.stats.registry import RankingMethod, ranking_method, register
from leaderboard.stats.table import NaRule, ScoreTable, TaskMatrix, check_na_rule, task_matrices
from leaderboard.stats.ties import Ties, check_ties, rank_order, rank_scores
from leaderboard.stats.wilcoxon import signed_rank_pvalues

Adjust = Literal["none", "holm", "bonferroni"]
ADJUSTMENTS: tuple[str, ...] = ("none", "holm", "bonferroni")


@dataclass(frozen=True)
class RankingConfig:
    """How one task is ranked. ``method`` names a registered method
    (:mod:`leaderboard.stats.registry`); ``adjust`` and ``alpha`` matter to test-then-rank
    only."""

    method: str
    larger_better: bool = True
    na: NaRule = "worst"
    ties: Ties = "min"
    adjust: Adjust = "none"
    alpha: float = 0.05

    def __post_init__(self) -> None:
        ranking_method(self.method)
        object.__setattr__(self, "na", check_na_rule(self.na))
        check_ties(self.ties)
        if self.adjust not in ADJUSTMENTS:
            raise StatsInputError(
                f"adjust {self.adjust!r}: expected one of {', '.join(ADJUSTMENTS)}"
            )
        if not 0 < self.alpha < 1:
            raise StatsInputError(f"alpha {self.alpha!r}: expected a number between 0 and 1")

    def description(self) -> str:
        """The method, tie rule and missing-value rule in plain words, for a leaderboard page."""
        direction = "larger" if self.larger_better else "smaller"
        method = self.ranking_method.explain(self)
        if self.na == "worst":
            missing = "missing values count as worse than every observed value"
        elif self.na == "drop":
            missing = "missing values are dropped"
        else:
            missing = f"missing values count as {self.na:g}"
        return f"{method} ({direction} is better; ties: {self.ties}; {missing})."

    @property
    def ranking_method(self) -> RankingMethod:
        """The registry entry of ``method``."""
        return ranking_method(self.method)

    @property
    def score_larger_better(self) -> bool:
        """Direction of the method's score (the metric's for aggregates, shares up, mean
        ranks down)."""
        return self.ranking_method.score_larger_better(self.larger_better)


@dataclass(frozen=True)
class TaskRanking:
    """The ranking of one task: per algorithm (sorted by name) its score and rank.

    ``score`` is the aggregate (aggregate-then-rank), the mean per-case rank
    (rank-then-aggregate) or the share of the other algorithms beaten (test-then-rank); NaN
    when the algorithm has no value to score. ``n_cases`` is the number of test cases.
    """

    task: str
    algorithms: tuple[str, ...]
    score: np.ndarray
    rank: np.ndarray
    n_cases: int
    config: RankingConfig | None = field(default=None, compare=False)

    def records(self) -> list[dict[str, object]]:
        """Rows ``task, algorithm, score, rank`` in rank order (ties by name)."""
        order = rank_order(self.rank, self.algorithms)
        return [
            {
                "task": self.task,
                "algorithm": self.algorithms[k],
                "score": float(self.score[k]),
                "rank": float(self.rank[k]),
            }
            for k in order
        ]


def prepared_values(matrix: TaskMatrix, config: RankingConfig) -> tuple[np.ndarray, np.ndarray]:
    """The values after the missing-value rule, and which of them take part: (K, n) each.

    A number replaces NaN; ``"worst"`` replaces it by −inf (larger better) or +inf;
    ``"drop"`` keeps NaN and marks it absent (warning with DroppedCasesWarning).
    """
    missing = np.isnan(matrix.values)
    if config.na == "drop":
        if missing.any():
            warnings.warn(
                f"task {matrix.task}: {int(missing.sum())} missing values dropped; algorithms "
                "are no longer compared on the same cases",
                DroppedCasesWarning,
                stacklevel=3,
            )
        return matrix.values, ~missing
    fill = (-np.inf if config.larger_better else np.inf) if config.na == "worst" else config.na
    return np.where(missing, fill, matrix.values), np.ones_like(missing)


def _per_case_ranks(matrix: TaskMatrix, config: RankingConfig):
    """Per-case ranks (n, K) as challengeR's ``Rank``, the cells that count (absent under
    ``"drop"``), and the cells ranked as missing (NaN under ``"worst"``)."""
    values = matrix.values
    missing = np.isnan(values)
    if config.na not in ("drop", "worst"):
        values = np.where(missing, config.na, values)
    ranks = rank_scores(values.T, larger_better=config.larger_better, ties=config.ties, rel_tol=0)
    counted = ~missing.T if config.na == "drop" else np.ones(ranks.shape, dtype=bool)
    ranked_missing = missing.T if config.na == "worst" else np.zeros(ranks.shape, dtype=bool)
    return np.where(counted, ranks, 0.0), counted, ranked_missing


def _joint_rank_terms(ranks: np.ndarray, counted: np.ndarray, missing: np.ndarray, ties: Ties):
    """A, B (n, K) with c·J(c) = c²·A + c·B: J(c) is the rank challengeR gives a case drawn c
    times, its copies ranked together under one case id (formulas in docs/ranking.md)."""
    observed = counted & ~missing
    n_missing = missing.sum(axis=1, keepdims=True)
    top = np.where(observed, ranks, 0.0).max(axis=1, keepdims=True)
    any_observed = observed.any(axis=1, keepdims=True)
    if ties == "min":
        a_missing = np.where(any_observed, top - 1, 0.0)
        b_missing = np.where(any_observed, 2.0, 1.0)
        a, b = np.where(observed, ranks - 1, a_missing), np.where(observed, 1.0, b_missing)
    else:
        a_missing = np.where(any_observed, top + (n_missing - 1) / 2, n_missing / 2)
        b_missing = np.where(any_observed, 1.0, 0.5)
        a, b = np.where(observed, ranks - 0.5, a_missing), np.where(observed, 0.5, b_missing)
    return np.where(counted, a, 0.0), np.where(counted, b, 0.0)


@register(
    "aggregate-mean",
    label="Mean per algorithm, then ranked",
    aggregate="mean",
    ranks_aggregate=True,
    direction="metric",
    sentence="mean of each algorithm's values, then ranked",
)
def _aggregate_mean(
    matrix: TaskMatrix, config: RankingConfig, counts: np.ndarray, compat: bool
) -> np.ndarray:
    return metric_aggregate(matrix, config, counts, median=False)


@register(
    "aggregate-median",
    label="Median per algorithm, then ranked",
    aggregate="median",
    ranks_aggregate=True,
    direction="metric",
    sentence="median of each algorithm's values, then ranked",
)
def _aggregate_median(
    matrix: TaskMatrix, config: RankingConfig, counts: np.ndarray, compat: bool
) -> np.ndarray:
    return metric_aggregate(matrix, config, counts, median=True)


@register(
    "rank-then-aggregate",
    label="Ranked per case, then by mean rank",
    aggregate="mean",
    direction="smaller",
    sentence="algorithms ranked on every case, then by their mean rank",
)
def _rank_then_aggregate(
    matrix: TaskMatrix, config: RankingConfig, counts: np.ndarray, compat: bool
) -> np.ndarray:
    ranks, counted, missing = _per_case_ranks(matrix, config)
    rows = counts @ counted.astype(np.float64)
    if compat:
        a, b = _joint_rank_terms(ranks, counted, missing, config.ties)
        totals = (counts**2) @ a + counts @ b
    else:
        totals = counts @ ranks
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rows > 0, totals / rows, np.nan)


def adjust_pvalues(pvalues: np.ndarray, method: Adjust) -> np.ndarray:
    """Adjust along the last axis as R's ``p.adjust``: Bonferroni min(1, M·p); Holm the running
    maximum of min(1, (M − i + 1)·p₍ᵢ₎) over the sorted p-values."""
    m = pvalues.shape[-1]
    if method == "none" or m == 0:
        return pvalues
    if method == "bonferroni":
        return np.minimum(1.0, pvalues * m)
    order = np.argsort(pvalues, axis=-1, kind="stable")
    ranked = np.take_along_axis(pvalues, order, axis=-1) * (m - np.arange(m))
    adjusted = np.minimum(1.0, np.maximum.accumulate(ranked, axis=-1))
    result = np.empty_like(adjusted)
    np.put_along_axis(result, order, adjusted, axis=-1)
    return result


def significance(
    matrix: TaskMatrix,
    config: RankingConfig,
    counts: np.ndarray | None = None,
    *,
    compat: bool = False,
) -> np.ndarray:
    """(B, K, K) booleans: ``[b, i, j]`` is True when algorithm i is significantly better than
    j on resample b (adjusted one-sided Wilcoxon p ≤ α). Without ``counts``: the full data."""
    values, present = prepared_values(matrix, config)
    oriented = np.where(present, values if config.larger_better else -values, np.nan)
    counts = np.ones((1, matrix.values.shape[1])) if counts is None else counts
    pvalues = signed_rank_pvalues(oriented, (counts > 0) if compat else counts)
    k = len(matrix.algorithms)
    off_diagonal = ~np.eye(k, dtype=bool)
    adjusted = np.ones_like(pvalues)
    adjusted[:, off_diagonal] = adjust_pvalues(pvalues[:, off_diagonal], config.adjust)
    return (adjusted <= config.alpha) & off_diagonal


def _test_then_rank_sentence(config: RankingConfig) -> str:
    adjusted = "" if config.adjust == "none" else f", {config.adjust.capitalize()}-adjusted"
    return (
        "ranked by the share of other algorithms beaten in one-sided Wilcoxon "
        f"signed-rank tests at α = {config.alpha:g}{adjusted}"
    )


@register(
    "test-then-rank",
    label="Share of others beaten in Wilcoxon tests (significance ranking)",
    aggregate="mean",
    direction="larger",
    sentence=_test_then_rank_sentence,
)
def _test_then_rank(
    matrix: TaskMatrix, config: RankingConfig, counts: np.ndarray, compat: bool
) -> np.ndarray:
    k = len(matrix.algorithms)
    wins = significance(matrix, config, counts, compat=compat).sum(axis=2)
    if config.na != "drop":
        return wins / (k - 1) if k > 1 else np.zeros(wins.shape)
    # As challengeR, which drops the rows with missing values before testing: an algorithm
    # with no value on the resample is not in the task at all, so it is neither ranked nor
    # counted among the others an algorithm could beat.
    present = counts @ (~np.isnan(matrix.values)).T.astype(np.float64) > 0
    others = np.maximum(present.sum(axis=1, keepdims=True) - 1, 1)
    return np.where(present, wins / others, np.nan)


def metric_aggregate(
    matrix: TaskMatrix, config: RankingConfig, counts: np.ndarray, *, median: bool
) -> np.ndarray:
    """Mean (or median) of the metric per algorithm on each resample, missing values treated
    by ``config.na``: (B, K)."""
    values, present = prepared_values(matrix, config)
    aggregate = weighted_median if median else weighted_mean
    return aggregate(values, present, counts)


def resample_scores(
    matrix: TaskMatrix, config: RankingConfig, counts: np.ndarray, *, compat: bool = False
) -> np.ndarray:
    """Scores (B, K) of the algorithms on each resample given as case multiplicities (B, n).

    ``compat=True`` reproduces challengeR's handling of duplicated cases (docs/ranking.md):
    rank-then-aggregate ranks the copies of a case jointly; test-then-rank counts a case once.
    """
    counts = np.asarray(counts, dtype=np.float64)
    return config.ranking_method.score(matrix, config, counts, compat)


def method_aggregates(
    matrix: TaskMatrix, config: RankingConfig, counts: np.ndarray, scores: np.ndarray
) -> np.ndarray:
    """The method's metric aggregate (B, K) on each resample, given its ``scores`` there: the
    scores themselves when the method ranks that aggregate, else the mean or median."""
    method = config.ranking_method
    if method.ranks_aggregate:
        return scores
    return metric_aggregate(matrix, config, counts, median=method.aggregate == "median")


def rank_resample_scores(scores: np.ndarray, config: RankingConfig) -> np.ndarray:
    """Ranks of scores along the last axis in the direction of the method's score."""
    return rank_scores(scores, larger_better=config.score_larger_better, ties=config.ties)


def rank_task(matrix: TaskMatrix, config: RankingConfig) -> TaskRanking:
    """Rank one task on its full data."""
    scores = resample_scores(matrix, config, np.ones((1, len(matrix.cases))))[0]
    return TaskRanking(
        task=matrix.task,
        algorithms=matrix.algorithms,
        score=scores,
        rank=rank_resample_scores(scores, config),
        n_cases=len(matrix.cases),
        config=config,
    )


def rank_table(table: ScoreTable, config: RankingConfig) -> list[TaskRanking]:
    """Rank every task of a long table (tasks sorted by name), each independently."""
    return [rank_task(matrix, config) for matrix in task_matrices(table).values()]
