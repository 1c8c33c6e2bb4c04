"""From a task's ranking (with or without its bootstrap) to snapshot entries and statistics.

Shared by segmentation (:mod:`leaderboard.kinds.segmentation`), detection
(:mod:`leaderboard.kinds.detection`) and clinical (:mod:`leaderboard.kinds.clinical`) phases.
Arrays are in the order of the ranked algorithms (sorted by name, as ``leaderboard.stats``
sorts them); entries are best first.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evaluation.results import primary_score
from leaderboard.stats import (
    RankingConfig,
    TaskBootstrap,
    TaskMatrix,
    blob_plot,
    bootstrap_task,
    rank_task,
)
from leaderboard.stats.methods import method_aggregates
from leaderboard.stats.ties import rank_scores
from scorers.metrics import metric

from .entrants import Entrant
from .numbers import finite, rank_value, tau_summary


@dataclass(frozen=True)
class Ranked:
    """One task ranked: per algorithm its rank, the method's score (``ranking_score``: the
    aggregate, the mean rank or the share of wins) and the metric aggregate (``score``, named
    by ``aggregate``); with a bootstrap (``n_boot`` > 0) the intervals, the rank distribution
    ``p_rank`` (K, K), Kendall's tau-b summary and the blob plot."""

    rank: np.ndarray
    ranking_score: np.ndarray
    score: np.ndarray
    aggregate: str
    n_boot: int = 0
    score_q025: np.ndarray | None = None
    score_q975: np.ndarray | None = None
    rank_q025: np.ndarray | None = None
    rank_q975: np.ndarray | None = None
    rank_median: np.ndarray | None = None
    p_rank: np.ndarray | None = None
    tau: dict | None = None
    blob: str | None = None


@dataclass(frozen=True)
class PhaseBoard:
    """What a phase snapshot stores: ``entries`` (best first) and ``statistics``; ``order`` the
    ranked algorithms' indices in entry order."""

    entries: list[dict]
    statistics: dict
    order: list[int]


def from_bootstrap(bootstrap: TaskBootstrap, *, title: str) -> Ranked:
    """The ranking and its bootstrap summary (rank and aggregate intervals, P(rank = k))."""
    summary = bootstrap.summary()
    return Ranked(
        rank=summary.full_rank,
        ranking_score=bootstrap.full.score,
        score=summary.aggregate_value,
        aggregate=summary.aggregate,
        n_boot=len(bootstrap.boot),
        score_q025=summary.aggregate_q025,
        score_q975=summary.aggregate_q975,
        rank_q025=summary.q025,
        rank_q975=summary.q975,
        rank_median=summary.median_rank,
        p_rank=summary.p_rank,
        tau=tau_summary(bootstrap.tau),
        blob=blob_plot(bootstrap, title=title),
    )


def by_aggregate(entrants: Sequence[Entrant], name: str, *, ties: str) -> Ranked:
    """The entrants ranked by their stored aggregate of metric ``name`` (a value of the whole
    set: mAP, COCO AP, AUROC, C-index, …) in its direction, ``ties`` as the phase breaks them,
    without a bootstrap; an undefined value ranks last."""
    scores = np.array([
        np.nan if (value := primary_score(c.evaluation.aggregate, name)) is None else value
        for c in entrants
    ], dtype=np.float64)
    return Ranked(
        rank=rank_scores(scores, larger_better=metric(name).larger_better, ties=ties),
        ranking_score=scores,
        score=scores,
        aggregate=name,
    )


def rank_matrix(
    matrix: TaskMatrix, config: RankingConfig, *, n_boot: int, seed: int, title: str
) -> Ranked:
    """Rank a task matrix; bootstrap it with ``n_boot`` resamples drawn from ``seed`` unless
    ``n_boot`` is 0. The metric aggregate is the method's (its registry entry's ``aggregate``)."""
    if n_boot > 0:
        return from_bootstrap(bootstrap_task(matrix, config, n_boot=n_boot, seed=seed),
                              title=title)
    full = rank_task(matrix, config)
    ones = np.ones((1, len(matrix.cases)))
    return Ranked(rank=full.rank, ranking_score=full.score,
                  score=method_aggregates(matrix, config, ones, full.score[None])[0],
                  aggregate=config.ranking_method.aggregate)


def board(ranked: Ranked, entrants: Sequence[Entrant], *, n_cases: int) -> PhaseBoard:
    """Entries best first (ties: earlier submission first, then name) and the statistics that
    every phase kind shares. ``entrants`` are in the ranked algorithms' order."""
    order = sorted(
        range(len(entrants)),
        key=lambda a: (float(ranked.rank[a]), entrants[a].evaluation.submission.created,
                       entrants[a].name),
    )
    entries = [_entry(ranked, a, entrants[a], n_cases) for a in order]
    statistics = {
        "aggregate": ranked.aggregate,
        "n_boot": ranked.n_boot,
        "entrant_keys": [entrants[a].key for a in order],
        "rank_distribution": (
            [[finite(p) for p in ranked.p_rank[a]] for a in order]
            if ranked.p_rank is not None else None
        ),
        "kendall_tau": ranked.tau,
        "plots": {"blob": ranked.blob},
    }
    return PhaseBoard(entries=entries, statistics=statistics, order=order)


def _at(values: np.ndarray | None, a: int) -> float | None:
    return None if values is None else finite(values[a])


def _entry(ranked: Ranked, a: int, entrant: Entrant, n_cases: int) -> dict:
    evaluation = entrant.evaluation
    submission = evaluation.submission
    return {
        "rank": rank_value(ranked.rank[a]),
        "entrant": entrant.name,
        "submission": str(submission.id),
        "evaluation": str(evaluation.id),
        "submitted": submission.created.isoformat(),
        "description": submission.description,
        "score": finite(ranked.score[a]),
        "aggregate": evaluation.aggregate,
        "ranking_score": finite(ranked.ranking_score[a]),
        "score_q025": _at(ranked.score_q025, a),
        "score_q975": _at(ranked.score_q975, a),
        "rank_q025": _at(ranked.rank_q025, a),
        "rank_q975": _at(ranked.rank_q975, a),
        "rank_median": _at(ranked.rank_median, a),
        "p_rank1": None if ranked.p_rank is None else finite(ranked.p_rank[a, 0]),
        "n_cases": n_cases,
    }
