"""Phases with scored evaluations built from chosen per-case values (real rows, real services)."""

from collections.abc import Mapping, Sequence

import numpy as np

from challenges.models import GroundTruth, Phase, Task
from evaluation.models import CaseResult, Evaluation
from evaluation.results import aggregate
from leaderboard.stats import ScoreTable, bootstrap_table, task_matrices
from scorers.metrics import SEGMENTATION, metric_names
from tests import factories


def labelled_phase(*, cases: Sequence[str], labels: Mapping[str, str] | None = None,
                   **phase_fields) -> Phase:
    """A segmentation phase (factories.phase) whose task has the given foreground labels."""
    phase = factories.phase(cases=tuple(cases), **phase_fields)
    phase.task.labels = {"0": "background", **(labels or {"1": "organ"})}
    phase.task.save()
    return Phase.objects.select_related("task").get(pk=phase.pk)


def scored_evaluation(phase: Phase, user, values: Mapping[tuple[str, int], Mapping],
                      *, description: str = "", team=None, missing: Sequence[str] = ()):
    """A succeeded evaluation of a new submission with one CaseResult per (case, label) of
    ``values`` ({metric: value or None}; metrics left out are None) and the aggregate the
    evaluation service computes from them. Cases in ``missing`` are flagged missing."""
    submission, evaluation = factories.submission(phase, user, state="succeeded")
    submission.description = description
    submission.team = team
    submission.save()
    rows = [{"case": case, "label": label,
             "values": {m: metric_values.get(m) for m in metric_names(SEGMENTATION)}}
            for (case, label), metric_values in values.items()]
    CaseResult.objects.bulk_create(
        CaseResult(evaluation=evaluation, missing=row["case"] in missing, **row) for row in rows
    )
    config = evaluation.metric_config
    geometries = {c["name"]: c["geometry"] for c in phase.task.cases}
    evaluation.aggregate = aggregate(rows, config=config, geometries=geometries)
    evaluation.save(update_fields=["aggregate"])
    return Evaluation.objects.select_related("submission").get(pk=evaluation.pk)


def random_board(phase: Phase, n_participants: int, *, seed: int = 0, names=None,
                 metric: str = "dice") -> dict[str, np.ndarray]:
    """Participants with random per-case values of ``metric`` on every label (plus every
    other metric random too); returns {participant name: (n_cases, n_labels) values}."""
    rng = np.random.default_rng(seed)
    labels = phase.task.foreground_labels
    cases = phase.task.case_names
    chosen = {}
    for k in range(n_participants):
        name = names[k] if names else f"p{k:02d}"
        user = factories.participant(phase, name)
        skill = rng.uniform(0.5, 0.9)
        grid = np.clip(skill + rng.normal(0, 0.1, size=(len(cases), len(labels))), 0, 1)
        values = {
            (case, label): {
                "dice": float(grid[j, i]), "nsd": float(np.clip(grid[j, i] + 0.05, 0, 1)),
                "hd": float(10 * (1 - grid[j, i])), "hd95": float(8 * (1 - grid[j, i])),
                "assd": float(2 * (1 - grid[j, i])),
            }
            for j, case in enumerate(cases) for i, label in enumerate(labels)
        }
        scored_evaluation(phase, user, values, description=f"net {k}")
        chosen[name] = grid
    return chosen


def challenge_phases(keys: Sequence[str], *, cases: Sequence[str], slug: str = "decathlon",
                     **phase_fields) -> list[Phase]:
    """One segmentation task (label 1) and its "Test" phase per key, all in one challenge."""
    first = labelled_phase(cases=cases, slug=slug, **phase_fields)
    first.task.key, first.task.name = keys[0], keys[0]
    first.task.save()
    phases = [first]
    for key in keys[1:]:
        task = Task.objects.create(challenge=first.task.challenge, key=key, name=key,
                                   labels=first.task.labels, cases=first.task.cases)
        truth = GroundTruth.objects.create(task=task, version=1, content_sha256="1" * 64,
                                           files=first.active_ground_truth.files)
        phases.append(Phase.objects.create(task=task, active_ground_truth=truth, **phase_fields))
    return phases


def stats_on_chosen_values(phase: Phase, grids: Mapping[str, np.ndarray], config, n_boot: int):
    """leaderboard.stats run directly on the long table of the values a test chose (per case
    the mean over labels): the task's bootstrap with the phase's seed, and its matrix."""
    cases = phase.task.case_names
    rows = [(name, case, float(np.mean(grid[j]))) for name, grid in grids.items()
            for j, case in enumerate(cases)]
    table = ScoreTable.from_columns(task=[phase.task.key] * len(rows),
                                    case=[r[1] for r in rows], algorithm=[r[0] for r in rows],
                                    value=[r[2] for r in rows])
    boot = bootstrap_table(table, config, n_boot=n_boot, seed=phase.ranking_seed)[0]
    return boot, task_matrices(table)[phase.task.key]
