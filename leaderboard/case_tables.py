"""Per-case values of a segmentation phase, read from CaseResults, ready for ranking.

A null value (undefined: one mask empty) and a case without a row (no prediction) take the
worst value of :func:`evaluation.results.worst_value` (the metric registry's rule: 0 for Dice
and NSD, the phase's worst distance or the case's image diagonal in mm for HD, HD95 and ASSD)
exactly as the evaluation's own aggregate counts them. So every matrix is complete: no value
is missing any more.
"""

from collections.abc import Sequence

import numpy as np

from challenges.models import Task
from evaluation.models import CaseResult
from evaluation.results import worst_value
from leaderboard.stats import ScoreTable, TaskMatrix, task_matrices

from .entrants import Entrant


def label_values(
    task: Task, entrants: Sequence[Entrant], metrics: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per metric, an array (K entrants, n cases, L labels) in the order of ``entrants``,
    ``task.case_names`` and ``task.foreground_labels``, worst values substituted."""
    cases = task.case_names
    labels = task.foreground_labels
    case_index = {case: j for j, case in enumerate(cases)}
    label_index = {label: i for i, label in enumerate(labels)}
    row_of = {c.evaluation.id: k for k, c in enumerate(entrants)}
    shape = (len(entrants), len(cases), len(labels))
    values = {metric: np.full(shape, np.nan) for metric in metrics}
    rows = CaseResult.objects.filter(evaluation_id__in=list(row_of)).values_list(
        "evaluation_id", "case", "label", "values"
    )
    for evaluation_id, case, label, numbers in rows.iterator(chunk_size=5000):
        j, i = case_index.get(case), label_index.get(label)
        if j is None or i is None:
            continue
        k = row_of[evaluation_id]
        for metric in metrics:
            number = numbers.get(metric)
            values[metric][k, j, i] = np.nan if number is None else number
    for metric in metrics:
        _substitute_worst(values[metric], metric, task, entrants)
    return values


def _substitute_worst(
    values: np.ndarray, metric: str, task: Task, entrants: Sequence[Entrant]
) -> None:
    geometries = [case["geometry"] for case in task.cases]
    for k, j in zip(*np.nonzero(np.isnan(values).any(axis=2)), strict=True):
        worst = worst_value(metric, config=entrants[k].evaluation.metric_config,
                            geometry=geometries[j])
        values[k, j] = np.where(np.isnan(values[k, j]), worst, values[k, j])


def case_values(
    task: Task, entrants: Sequence[Entrant], metrics: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per metric, (K, n): each case's value averaged over the task's labels (after the worst
    values are substituted per label)."""
    return {
        metric: per_label.mean(axis=2)
        for metric, per_label in label_values(task, entrants, metrics).items()
    }


def task_matrix(
    task_name: str, names: Sequence[str], cases: Sequence[str], values: np.ndarray
) -> TaskMatrix:
    """The (K, n) values as ``leaderboard.stats`` sees them: through a validated long table,
    so algorithms and cases are sorted exactly as a direct call on the same table sorts them."""
    k, n = values.shape
    table = ScoreTable.from_columns(
        task=[task_name] * (k * n),
        case=[case for _ in range(k) for case in cases],
        algorithm=[name for name in names for _ in range(n)],
        value=values.reshape(-1).tolist(),
    )
    return task_matrices(table)[task_name]
