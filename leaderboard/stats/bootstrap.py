"""Bootstrap of a ranking over cases, per task, and the summaries of its rank distribution.

Each resample draws the task's n cases with replacement and re-runs the whole ranking on it
(challengeR's ``bootstrap.ranked.list``). Standard semantics, the default: a case drawn twice
counts twice everywhere. ``compat="challengeR"`` reproduces what challengeR 1.0.5 does with the
copies, which all carry the same case id there: rank-then-aggregate ranks the copies of a case
jointly within that case id, and test-then-rank pairs the algorithms by case id and so counts a
case once (docs/ranking.md shows both on an example). Aggregate-then-rank is the same either way.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from leaderboard.stats.errors import StatsInputError
from leaderboard.stats.methods import (
    RankingConfig,
    TaskRanking,
    method_aggregates,
    rank_resample_scores,
    rank_task,
    resample_scores,
)
from leaderboard.stats.resamples import (
    ResampleTable,
    TaskResamples,
    draw_resamples,
    select_resamples,
)
from leaderboard.stats.table import ScoreTable, TaskMatrix, task_matrices
from leaderboard.stats.ties import rank_order

Compat = Literal["challengeR"]


def kendall_tau_b(reference: np.ndarray, rankings: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between ``reference`` (K,) and each row of ``rankings`` (B, K) → (B,).

    tau_b = Σ_{i<j} sgn(x_i − x_j)·sgn(y_i − y_j) / √(n_x · n_y), n_x and n_y the numbers of
    pairs not tied in x and in y (as R's ``cor(method="kendall")`` and scipy's ``kendalltau``);
    NaN when either ranking ties every pair.
    """
    reference = np.asarray(reference, dtype=np.float64)
    rankings = np.atleast_2d(np.asarray(rankings, dtype=np.float64))
    first, second = np.triu_indices(len(reference), 1)
    reference_signs = np.sign(reference[first] - reference[second])
    reference_untied = float(np.count_nonzero(reference_signs))
    taus = np.empty(len(rankings))
    for start in range(0, len(rankings), 256):
        chunk = rankings[start : start + 256]
        differences = chunk[:, first] - chunk[:, second]
        concordance = np.sign(differences) @ reference_signs
        untied = np.count_nonzero(differences, axis=1)
        denominator = np.sqrt(untied * reference_untied)
        with np.errstate(divide="ignore", invalid="ignore"):
            taus[start : start + 256] = np.where(denominator > 0, concordance / denominator, np.nan)
    return taus


def _interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2.5 % and 97.5 % quantiles per column (R's type 7), ignoring NaN. With infinite values
    (missing under "worst") the interpolation keeps the lower neighbour where it would give
    NaN (−inf next to a number, or a zero weight on an infinity)."""
    low, high = np.full(samples.shape[1], np.nan), np.full(samples.shape[1], np.nan)
    for k, column in enumerate(samples.T):
        values = np.sort(column[~np.isnan(column)])
        if len(values) == 0:
            continue
        for q, out in ((0.025, low), (0.975, high)):
            h = (len(values) - 1) * q
            below, above = values[int(np.floor(h))], values[int(np.ceil(h))]
            with np.errstate(invalid="ignore"):
                value = below + (h - np.floor(h)) * (above - below)
            out[k] = below if below == above or np.isnan(value) else value
    return low, high


@dataclass(frozen=True)
class RankSummary:
    """Per algorithm: full-data rank; mean, median, 2.5 % and 97.5 % quantiles (linear
    interpolation, R's type 7) of the bootstrap ranks; ``p_rank[k, r-1]`` the share of
    resamples with rank exactly r; and the metric aggregate with its 2.5 %/97.5 % bootstrap
    quantiles (NaN resamples ignored)."""

    task: str
    algorithms: tuple[str, ...]
    full_rank: np.ndarray
    mean_rank: np.ndarray
    median_rank: np.ndarray
    q025: np.ndarray
    q975: np.ndarray
    p_rank: np.ndarray
    aggregate: str
    aggregate_value: np.ndarray
    aggregate_q025: np.ndarray
    aggregate_q975: np.ndarray

    def records(self) -> list[dict[str, object]]:
        """Rows ``task, algorithm, full_rank, mean_rank, median_rank, q025, q975, p_rank1 …
        p_rankK`` in full-rank order (ties by name)."""
        order = rank_order(self.full_rank, self.algorithms)
        rows = []
        for k in order:
            row: dict[str, object] = {"task": self.task, "algorithm": self.algorithms[k]}
            for name in ("full_rank", "mean_rank", "median_rank", "q025", "q975"):
                row[name] = float(getattr(self, name)[k])
            row.update({f"p_rank{r + 1}": float(p) for r, p in enumerate(self.p_rank[k])})
            rows.append(row)
        return rows


@dataclass(frozen=True)
class TaskBootstrap:
    """A task's full ranking and its B resamples: ``boot`` ids (B,), ``scores`` and ``ranks``
    (B, K), Kendall's tau-b of each resample's ranking against the full one (B,), and the metric
    aggregate named ``aggregate`` ("mean", "median", "mAP") on full data (K,) and per resample
    (B, K); ``resamples`` the resamples used (``samples`` as a table)."""

    full: TaskRanking
    boot: np.ndarray
    scores: np.ndarray
    ranks: np.ndarray
    tau: np.ndarray
    aggregate: str
    full_aggregate: np.ndarray
    aggregates: np.ndarray
    resamples: TaskResamples

    @property
    def samples(self) -> ResampleTable:
        """The resamples used, as a table ``task, boot, draw, case``."""
        return self.resamples.table()

    @property
    def task(self) -> str:
        return self.full.task

    @property
    def algorithms(self) -> tuple[str, ...]:
        return self.full.algorithms

    def summary(self) -> RankSummary:
        """The rank distribution and aggregate intervals of each algorithm."""
        k = len(self.algorithms)
        p_rank = (self.ranks[:, :, None] == np.arange(1, k + 1)).mean(axis=0)
        q025, q975 = np.quantile(self.ranks, [0.025, 0.975], axis=0)
        low, high = _interval(self.aggregates)
        return RankSummary(
            task=self.task,
            algorithms=self.algorithms,
            full_rank=self.full.rank,
            mean_rank=self.ranks.mean(axis=0),
            median_rank=np.median(self.ranks, axis=0),
            q025=q025,
            q975=q975,
            p_rank=p_rank,
            aggregate=self.aggregate,
            aggregate_value=self.full_aggregate,
            aggregate_q025=low,
            aggregate_q975=high,
        )

    def kendall_records(self) -> list[dict[str, object]]:
        """Rows ``task, boot, tau``."""
        return [
            {"task": self.task, "boot": int(boot), "tau": float(tau)}
            for boot, tau in zip(self.boot, self.tau, strict=True)
        ]


def resampled_ranking(
    full: TaskRanking,
    resamples: TaskResamples,
    scores: np.ndarray,
    ranks: np.ndarray,
    *,
    aggregate: str,
    full_aggregate: np.ndarray,
    aggregates: np.ndarray,
) -> TaskBootstrap:
    """Assemble a bootstrap from the resamples' scores and ranks (B, K) and the named metric
    aggregate on full data (K,) and per resample (B, K); adds Kendall's tau-b."""
    return TaskBootstrap(
        full=full,
        boot=resamples.boot,
        scores=scores,
        ranks=ranks,
        tau=kendall_tau_b(full.rank, ranks),
        aggregate=aggregate,
        full_aggregate=full_aggregate,
        aggregates=aggregates,
        resamples=resamples,
    )


def task_resamples(
    task: str, cases: Sequence[str], *, n_boot: int, seed: int | None, samples: ResampleTable | None
) -> TaskResamples:
    """Resamples of a task from ``samples`` if given, else ``n_boot`` drawn from ``seed``."""
    if samples is not None:
        return select_resamples(task, cases, samples)
    if seed is None:
        raise StatsInputError("bootstrap needs a seed or an explicit samples table")
    return draw_resamples(task, cases, n_boot=n_boot, seed=seed)


def bootstrap_task(
    matrix: TaskMatrix,
    config: RankingConfig,
    *,
    n_boot: int = 1000,
    seed: int | None = None,
    samples: ResampleTable | None = None,
    compat: Compat | None = None,
) -> TaskBootstrap:
    """Bootstrap one task: ``n_boot`` resamples drawn from ``seed`` (see
    :mod:`leaderboard.stats.resamples`), or the task's rows of ``samples``. The metric aggregate
    is the method's (its registry entry's ``aggregate``)."""
    if compat not in (None, "challengeR"):
        raise StatsInputError(f"compat {compat!r}: expected 'challengeR' or nothing")
    resamples = task_resamples(matrix.task, matrix.cases, n_boot=n_boot, seed=seed, samples=samples)
    scores = resample_scores(matrix, config, resamples.counts, compat=compat is not None)
    full = rank_task(matrix, config)
    ones = np.ones((1, len(matrix.cases)))
    return resampled_ranking(
        full,
        resamples,
        scores,
        rank_resample_scores(scores, config),
        aggregate=config.ranking_method.aggregate,
        full_aggregate=method_aggregates(matrix, config, ones, full.score[None])[0],
        aggregates=method_aggregates(matrix, config, resamples.counts, scores),
    )


def bootstrap_table(
    table: ScoreTable,
    config: RankingConfig,
    *,
    n_boot: int = 1000,
    seed: int | None = None,
    samples: ResampleTable | None = None,
    compat: Compat | None = None,
) -> list[TaskBootstrap]:
    """Bootstrap every task of a long table independently (tasks sorted by name). With
    ``samples``, every task needs resamples there and the table may name no other task."""
    matrices = task_matrices(table)
    if samples is not None and not samples.tasks() <= set(matrices):
        extra = sorted(samples.tasks() - set(matrices))
        raise StatsInputError(f"samples: task {extra[0]} is not in the data")
    return [
        bootstrap_task(m, config, n_boot=n_boot, seed=seed, samples=samples, compat=compat)
        for m in matrices.values()
    ]
