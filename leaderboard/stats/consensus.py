"""Consensus rankings across tasks: the Decathlon's overall leaderboard.

- :func:`mean_rank_consensus` — challengeR's ``consensus(method="euclidean")``: each task's
  ranks are re-ranked with ties averaged (1, 2, 2, 4 → 1, 2.5, 2.5, 4), the consensus score is
  their mean over tasks, and the algorithms are ranked by it ascending, ties "min".
- :func:`msd_consensus` / :func:`msd_ranking` — the MSD-style scheme, as the Decathlon's ranking
  is commonly described: within a task, one significance ranking (test-then-rank, ties "min")
  per label and metric (e.g. Dice and NSD of every label); the task score is the mean of those
  ranks; the overall score is the mean of the task scores over tasks, ranked ascending, ties
  "min". Each task weighs the same whatever its number of labels.

Every algorithm must be ranked in every task (and every label × metric): the schemes compare
algorithms on the same tasks, and an absent algorithm has no rank to average.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from leaderboard.stats.errors import StatsInputError
from leaderboard.stats.methods import RankingConfig, TaskRanking, rank_table
from leaderboard.stats.table import NaRule, ScoreTable
from leaderboard.stats.ties import rank_order, rank_scores


@dataclass(frozen=True)
class Consensus:
    """Overall ranking: per algorithm (sorted by name) its consensus score (a mean rank,
    smaller is better) and rank; ``task_scores[task]`` the per-task values that were averaged."""

    algorithms: tuple[str, ...]
    score: np.ndarray
    rank: np.ndarray
    task_scores: dict[str, np.ndarray]

    def records(self) -> list[dict[str, object]]:
        """Rows ``algorithm, consensus_score, rank`` in rank order (ties by name)."""
        order = rank_order(self.rank, self.algorithms)
        return [
            {
                "algorithm": self.algorithms[k],
                "consensus_score": float(self.score[k]),
                "rank": float(self.rank[k]),
            }
            for k in order
        ]


def _common_algorithms(rankings: Sequence[TaskRanking]) -> tuple[str, ...]:
    if not rankings:
        raise StatsInputError("consensus needs at least one task ranking")
    algorithms = tuple(sorted(rankings[0].algorithms))
    for ranking in rankings:
        if tuple(sorted(ranking.algorithms)) != algorithms:
            missing = set(algorithms) ^ set(ranking.algorithms)
            raise StatsInputError(
                f"task {ranking.task}: algorithm {sorted(missing)[0]} is not ranked in every task"
            )
    return algorithms


def _aligned_ranks(ranking: TaskRanking, algorithms: tuple[str, ...]) -> np.ndarray:
    position = {name: k for k, name in enumerate(ranking.algorithms)}
    return np.asarray([ranking.rank[position[name]] for name in algorithms], dtype=np.float64)


def _consensus(algorithms: tuple[str, ...], task_scores: dict[str, np.ndarray]) -> Consensus:
    score = np.mean(list(task_scores.values()), axis=0)
    return Consensus(
        algorithms=algorithms,
        score=score,
        rank=rank_scores(score, larger_better=False, ties="min"),
        task_scores=task_scores,
    )


def mean_rank_consensus(rankings: Iterable[TaskRanking]) -> Consensus:
    """challengeR's "euclidean" consensus: mean over tasks of the tie-averaged per-task ranks,
    ranked ascending with ties "min". Each task must appear once."""
    rankings = list(rankings)
    algorithms = _common_algorithms(rankings)
    task_scores: dict[str, np.ndarray] = {}
    for ranking in rankings:
        if ranking.task in task_scores:
            raise StatsInputError(f"task {ranking.task} appears twice in the consensus input")
        ranks = _aligned_ranks(ranking, algorithms)
        task_scores[ranking.task] = rank_scores(
            ranks, larger_better=False, ties="average", rel_tol=0
        )
    return _consensus(algorithms, task_scores)


def msd_consensus(rankings: Iterable[TaskRanking]) -> Consensus:
    """MSD-style overall ranking from several rankings per task (one per label × metric):
    task score = mean of that task's ranks, overall score = mean of task scores, ranked
    ascending with ties "min"."""
    rankings = list(rankings)
    algorithms = _common_algorithms(rankings)
    per_task: dict[str, list[np.ndarray]] = {}
    for ranking in rankings:
        per_task.setdefault(ranking.task, []).append(_aligned_ranks(ranking, algorithms))
    task_scores = {task: np.mean(ranks, axis=0) for task, ranks in per_task.items()}
    return _consensus(algorithms, task_scores)


@dataclass(frozen=True)
class Criterion:
    """One label × metric of the MSD scheme: its long table (rows of every task that has this
    label) and the metric's direction."""

    table: ScoreTable
    larger_better: bool


def msd_ranking(
    criteria: Iterable[Criterion], *, na: NaRule, adjust: str = "none", alpha: float = 0.05
) -> Consensus:
    """The MSD-style scheme end to end: test-then-rank (ties "min") per task and criterion,
    then :func:`msd_consensus`."""
    rankings: list[TaskRanking] = []
    for criterion in criteria:
        config = RankingConfig(
            method="test-then-rank",
            larger_better=criterion.larger_better,
            na=na,
            adjust=adjust,
            alpha=alpha,
        )
        rankings.extend(rank_table(criterion.table, config))
    return msd_consensus(rankings)
