"""Bootstrap of a detection leaderboard: mAP is not a per-case value, so images are resampled.

Each resample draws the task's n images with replacement (the same resamples for every
algorithm, drawn once, see :mod:`leaderboard.stats.resamples`) and recomputes each algorithm's
VOC mAP with every image counted as often as it was drawn, through
``scorers.detection.VocMatches.mean_average_precision(image_weights=...)``. Algorithms are
ranked by mAP, larger is better; an algorithm whose mAP is undefined (NaN: no weighted
positive) ranks last.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from leaderboard.stats.bootstrap import TaskBootstrap, resampled_ranking, task_resamples
from leaderboard.stats.errors import StatsInputError
from leaderboard.stats.methods import TaskRanking
from leaderboard.stats.resamples import ResampleTable
from leaderboard.stats.ties import Ties, check_ties, rank_scores

if TYPE_CHECKING:
    from scorers.detection import VocMatches


def _mean_average_precision(
    matches: Mapping[str, "VocMatches"],
    algorithms: tuple[str, ...],
    weights: np.ndarray,
    voc2007: bool,
) -> np.ndarray:
    columns = [
        matches[name].mean_average_precision(image_weights=weights, voc2007=voc2007)
        for name in algorithms
    ]
    return np.stack(columns, axis=-1)


def detection_bootstrap(
    matches: Mapping[str, "VocMatches"],
    *,
    task: str,
    n_boot: int = 1000,
    seed: int | None = None,
    samples: ResampleTable | None = None,
    voc2007: bool = False,
    ties: Ties = "min",
) -> TaskBootstrap:
    """Rank algorithms by VOC mAP and bootstrap that ranking over images.

    ``matches``: algorithm name → its :class:`VocMatches` against the task's ground truth; all
    must share ``image_ids`` (same ground truth). Resamples are ``n_boot`` draws from ``seed``
    or the task's rows of ``samples`` (``case`` = image id). Scores and the aggregate are mAP.
    """
    check_ties(ties)
    if not matches:
        raise StatsInputError(f"task {task}: no algorithm to rank")
    algorithms = tuple(sorted(matches))
    images = matches[algorithms[0]].image_ids
    for name in algorithms:
        if matches[name].image_ids != images:
            raise StatsInputError(f"task {task}: algorithm {name} was matched against other images")
    resamples = task_resamples(task, images, n_boot=n_boot, seed=seed, samples=samples)
    weights = resamples.counts.astype(np.int64)
    full_map = _mean_average_precision(matches, algorithms, np.ones(len(images), np.int64), voc2007)
    scores = _mean_average_precision(matches, algorithms, weights, voc2007)
    full = TaskRanking(
        task=task,
        algorithms=algorithms,
        score=full_map,
        rank=rank_scores(full_map, larger_better=True, ties=ties),
        n_cases=len(images),
    )
    return resampled_ranking(
        full,
        resamples,
        scores,
        rank_scores(scores, larger_better=True, ties=ties),
        aggregate="mAP",
        full_aggregate=full_map,
        aggregates=scores,
    )
