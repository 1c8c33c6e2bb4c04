"""A challenge's overall (Decathlon) rankings, computed from its phases' snapshots.

Phases are grouped by name ("Test", "Validation"): one overall ranking per name, over the tasks
that have a phase of that name with at least one ranked entrant. An entrant is anyone ranked in
at least one of those tasks (a team, or a participant submitting alone).

- **Mean rank** (challengeR's ``consensus(method = "euclidean")``): each task's ranks — those of
  the phase's leaderboard, by the phase's method — re-ranked with ties averaged; the score is
  their mean over the tasks; ranked ascending, ties "min".
- **MSD-style**: per task, label and metric (those of the metric registry marked ``overall``,
  Dice and NSD, that the phase scores; a phase with neither uses its primary metric), a
  significance ranking — test-then-rank, one-sided Wilcoxon at α = 0.05, no adjustment, ties
  "min" — of the per-case values (worst values substituted); the task score is the mean of
  those ranks, the overall score the mean over tasks, ranked ascending. A detection task
  contributes its leaderboard rank.

An entrant **missing a task ranks last in it**: after every entrant ranked there, tied
with the others missing it (rank = the largest rank given + 1, as challengeR's ``rankNA2``).

Each ranking gets a "ranks across tasks" plot (:func:`overall_plots`), stored with the
challenge's snapshot as ``ranks-<index of the ranking>``.
"""

from collections.abc import Sequence
from itertools import groupby

import numpy as np

from challenges.models import Challenge, Phase, Task
from leaderboard.stats import (
    Consensus,
    RankingConfig,
    TaskRanking,
    mean_rank_consensus,
    msd_consensus,
    rank_task,
)
from leaderboard.stats.plots import ranks_across_tasks
from scorers.metrics import metric
from scorers.metrics import metrics as registered_metrics

from .case_tables import label_values, task_matrix
from .entrants import from_entries
from .models import LeaderboardSnapshot
from .numbers import finite, rank_value


def overall_rankings(challenge: Challenge) -> list[dict]:
    """One overall ranking per phase name, each as stored in the challenge's snapshot."""
    phases = (Phase.objects.filter(task__challenge=challenge).select_related("task")
              .order_by("name", "task__key"))
    snapshots = {
        s.phase_id: s
        for s in LeaderboardSnapshot.objects.filter(phase__in=phases, computed_at__isnull=False)
    }
    boards = []
    for name, group in groupby(phases, key=lambda p: p.name):
        ranked = [(p, snapshots[p.id]) for p in group
                  if p.id in snapshots and snapshots[p.id].statistics.get("entrant_keys")]
        if ranked:
            boards.append(_board(name, ranked))
    return boards


def _board(name: str, ranked: Sequence[tuple[Phase, LeaderboardSnapshot]]) -> dict:
    names: dict[str, str] = {}
    task_ranks: list[dict[str, float]] = []
    for _, snapshot in ranked:
        keys = snapshot.statistics["entrant_keys"]
        for key, entry in zip(keys, snapshot.entries, strict=True):
            names.setdefault(key, entry["entrant"])
        task_ranks.append({key: entry["rank"] for key, entry in zip(keys, snapshot.entries,
                                                                       strict=True)})
    everyone = tuple(sorted(names))
    tasks = [phase.task.key for phase, _ in ranked]
    mean_rank = mean_rank_consensus(
        with_absent_last(task, everyone, ranks) for task, ranks in zip(tasks, task_ranks,
                                                                      strict=True)
    )
    msd = msd_consensus(
        ranking for (phase, snapshot), ranks in zip(ranked, task_ranks, strict=True)
        for ranking in _msd_rankings(phase, snapshot, everyone, ranks)
    )
    return {
        "phase_name": name,
        "phases": [str(phase.id) for phase, _ in ranked],
        "tasks": [{"key": phase.task.key, "name": phase.task.name, "phase": str(phase.id),
                   "participants": len(ranks)}
                  for (phase, _), ranks in zip(ranked, task_ranks, strict=True)],
        "entries": _rows(mean_rank, names, tasks, task_ranks),
        "msd_entries": _rows(msd, names, tasks, task_ranks),
    }


def with_absent_last(task: str, everyone: tuple[str, ...], ranks: dict[str, float]) -> TaskRanking:
    """A task's ranks over ``everyone``: those absent rank after the last entrant ranked,
    tied with each other (largest rank + 1)."""
    last = max(ranks.values()) + 1 if ranks else 1
    values = np.array([float(ranks.get(key, last)) for key in everyone])
    return TaskRanking(task=task, algorithms=everyone, score=values, rank=values, n_cases=0)


def _msd_rankings(
    phase: Phase, snapshot: LeaderboardSnapshot, everyone: tuple[str, ...], ranks: dict
) -> list[TaskRanking]:
    task = phase.task
    if task.kind != Task.SEGMENTATION:  # one set-level value per entrant: its rank
        return [with_absent_last(task.key, everyone, ranks)]
    present = from_entries(snapshot.entries, snapshot.statistics["entrant_keys"])
    if not present:
        return [with_absent_last(task.key, everyone, {})]
    keys = [c.key for c in present]
    overall = [m.name for m in registered_metrics(task.kind) if m.overall]
    metrics = [m for m in phase.scored_metrics() if m in overall] or [phase.primary_metric]
    rankings = []
    for name, values in label_values(task, present, metrics).items():
        config = RankingConfig(method="test-then-rank",
                               larger_better=metric(name).larger_better, na="worst")
        for label in range(values.shape[2]):
            matrix = task_matrix(task.key, keys, task.case_names, values[:, :, label])
            full = rank_task(matrix, config)
            rankings.append(with_absent_last(task.key, everyone,
                                             dict(zip(full.algorithms, full.rank, strict=True))))
    return rankings


def _rows(
    consensus: Consensus, names: dict[str, str], tasks: list[str], task_ranks: list[dict]
) -> list[dict]:
    order = sorted(range(len(consensus.algorithms)),
                   key=lambda k: (float(consensus.rank[k]), names[consensus.algorithms[k]]))
    rows = []
    for k in order:
        key = consensus.algorithms[k]
        rows.append({
            "rank": rank_value(consensus.rank[k]),
            "entrant": names[key],
            "score": finite(consensus.score[k]),
            "tasks_ranked": sum(key in ranks for ranks in task_ranks),
            "task_ranks": [rank_value(ranks[key]) if key in ranks else None
                           for ranks in task_ranks],
            "task_scores": [finite(consensus.task_scores[task][k]) for task in tasks],
        })
    return rows


def plot_name(index: int) -> str:
    """The name of the stored "ranks across tasks" plot of the snapshot's ``index``-th ranking."""
    return f"ranks-{index}"


def overall_plots(rankings: list[dict]) -> dict[str, str]:
    """Per ranking, the line plot of each entrant's mean-rank task ranks (those entering the
    mean: ties averaged, absent last), entrants in final order."""
    return {
        plot_name(index): ranks_across_tasks(
            [task["name"] for task in ranking["tasks"]],
            [row["entrant"] for row in ranking["entries"]],
            np.array([row["task_scores"] for row in ranking["entries"]], dtype=float)
            .reshape(len(ranking["entries"]), len(ranking["tasks"])),
            title=f"{ranking['phase_name']} phases: ranks across tasks")
        for index, ranking in enumerate(rankings)
    }
