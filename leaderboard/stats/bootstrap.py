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
_TAU_ROWS = 1024  # rankings per block in kendall_tau_b: bounds its arrays with B up to 10,000


def _tied_pairs(rows: np.ndarray) -> np.ndarray:
    """Σ t(t − 1)/2 over the runs of t equal values in each ascending row of ``rows`` (B, K)."""
    position = np.broadcast_to(np.arange(rows.shape[1]), rows.shape)
    opens = np.ones(rows.shape, dtype=bool)
    opens[:, 1:] = rows[:, 1:] != rows[:, :-1]
    first = np.maximum.accumulate(np.where(opens, position, 0), axis=1)
    return (position - first).sum(axis=1)


def _inversions(codes: np.ndarray) -> np.ndarray:
    """Per row of non-negative integer ``codes`` (B, K), the pairs i < j with codes i > j.

    Bit by bit from the highest: a pair is inverted at the highest bit where its codes differ,
    i.e. it is a 1 before a 0 among the codes sharing the bits above. A stable sort on those
    bits (a radix sort on 16-bit codes) brings each such group together in its original order,
    where a running count of ones gives, for every 0, the ones before it."""
    total = np.zeros(len(codes), dtype=np.int64)
    if codes.size == 0:
        return total
    codes = codes.astype(np.int16 if codes.max() < 2**15 else np.int64)
    flat, row_start = codes.reshape(-1), (np.arange(len(codes)) * codes.shape[1])[:, None]
    opens = np.ones(codes.shape, dtype=bool)
    for bit in reversed(range(int(codes.max()).bit_length())):
        in_order = flat[np.argsort(codes >> (bit + 1), axis=1, kind="stable") + row_start]
        ones = (in_order >> bit) & 1
        ones_before = np.cumsum(ones, axis=1, dtype=np.int32) - ones
        group = in_order >> (bit + 1)
        opens[:, 1:] = group[:, 1:] != group[:, :-1]
        at_open = np.maximum.accumulate(np.where(opens, ones_before, 0), axis=1)
        total += np.where(ones == 0, ones_before - at_open, 0).sum(axis=1)
    return total


def kendall_tau_b(reference: np.ndarray, rankings: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between ``reference`` (K,) and each row of ``rankings`` (B, K) → (B,).

    tau_b = Σ_{i<j} sgn(x_i − x_j)·sgn(y_i − y_j) / √(n_x · n_y), n_x and n_y the numbers of
    pairs not tied in x and in y (as R's ``cor(method="kendall")`` and scipy's ``kendalltau``);
    NaN when either ranking ties every pair, or holds NaN (infinities are ordinary values).

    The numerator counts without visiting the K(K − 1)/2 pairs (Knight's method, as scipy):
    with the algorithms sorted by (x, y), it is n₀ − n_x,tied − n_y,tied + n_both,tied − 2·D,
    D the pairs that the y values then put in the wrong order (:func:`_inversions`). Every
    count is an exact integer, so the result is that of the pairwise sum to the last bit.
    """
    reference = np.asarray(reference, dtype=np.float64)
    rankings = np.atleast_2d(np.asarray(rankings, dtype=np.float64))
    k = len(reference)
    x = np.unique(reference, return_inverse=True)[1].reshape(-1)  # codes ordered as the values
    pairs = k * (k - 1) // 2
    x_tied = int(_tied_pairs(np.sort(x)[None])[0])
    taus = np.empty(len(rankings))
    for start in range(0, len(rankings), _TAU_ROWS):
        block = rankings[start : start + _TAU_ROWS]
        levels, y = np.unique(np.where(np.isnan(block), 0.0, block), return_inverse=True)
        y = y.reshape(block.shape)
        joint = x * len(levels) + y
        order = np.argsort(joint, axis=1)
        both_tied = _tied_pairs(np.take_along_axis(joint, order, axis=1))
        discordant = _inversions(np.take_along_axis(y, order, axis=1))
        y_tied = _tied_pairs(np.sort(y, axis=1))
        concordance = (pairs - x_tied - y_tied + both_tied - 2 * discordant).astype(np.float64)
        denominator = np.sqrt((pairs - y_tied) * float(pairs - x_tied))
        with np.errstate(divide="ignore", invalid="ignore"):
            taus[start : start + _TAU_ROWS] = np.where(
                denominator > 0, concordance / denominator, np.nan
            )
    undefined = np.isnan(rankings).any(axis=1) | np.isnan(reference).any()
    return np.where(undefined, np.nan, taus)


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


def _rank_shares(ranks: np.ndarray, k: int) -> np.ndarray:
    """``[a, r − 1]``: the share of rows of ``ranks`` (B, K) where algorithm a has rank exactly
    r (1 … k; an average rank such as 2.5 is none of them). Counted, not compared K times."""
    exact = (ranks == np.round(ranks)) & (ranks >= 1) & (ranks <= k)
    cell = np.arange(ranks.shape[1]) * k + np.where(exact, ranks, 1).astype(np.int64) - 1
    counts = np.bincount(cell[exact], minlength=ranks.shape[1] * k).astype(np.float64)
    return counts.reshape(ranks.shape[1], k) / len(ranks)


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
        p_rank = _rank_shares(self.ranks, k)
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
