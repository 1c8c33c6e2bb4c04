"""A segmentation phase's leaderboard: per-case table → ranking → bootstrap → entries and plots.

The table ranked is the **primary metric per case, averaged over the task's labels** (worst
values substituted per label first, see :mod:`leaderboard.case_tables`), one row per
entrant; its mean over cases is the evaluation's own primary score. The phase's method,
ties, p-value adjustment and α rank it (:class:`leaderboard.stats.RankingConfig`); a seeded
bootstrap over cases gives the rank and score intervals (:mod:`leaderboard.ranked`); the
significance map uses the one-sided Wilcoxon tests of test-then-rank, whatever the method.
"""

from collections.abc import Sequence

import numpy as np

from challenges.models import Phase
from leaderboard.stats import RankingConfig, significance, significance_map
from scorers.metrics import WORST_DISTANCE, WORST_ZERO, metric

from ..case_tables import case_values, task_matrix
from ..entrants import Entrant
from ..numbers import rounded
from ..ranked import PhaseBoard, board, rank_matrix


def ranking_config(phase: Phase) -> RankingConfig:
    """The phase's ranking configuration. No value is missing once the worst values are
    substituted; ``na`` names that value where it is one number (0 for Dice and NSD, a fixed
    worst distance) so that :meth:`RankingConfig.description` says it."""
    primary = metric(phase.primary_metric)
    if primary.worst == WORST_ZERO:
        na = 0.0
    else:
        na = phase.worst_distance_mm if phase.worst_distance_mm is not None else "worst"
    return RankingConfig(
        method=phase.ranking_method,
        larger_better=primary.larger_better,
        na=na,
        ties=phase.ranking_ties,
        adjust=phase.ranking_adjust,
        alpha=phase.ranking_alpha,
    )


def missing_value_rule(phase: Phase) -> str:
    """The worst-value rule in words, for the page."""
    if phase.worst_distance_mm is not None:
        distance = f"the phase's worst distance, {phase.worst_distance_mm:g} mm"
    else:
        distance = "the diagonal of the case's image in mm"
    rules = {WORST_ZERO: "0", WORST_DISTANCE: distance}
    scored = [metric(name) for name in phase.scored_metrics()]
    parts = [
        f"{rules[rule]} for {_joined([m.label for m in scored if m.worst == rule])}"
        for rule in rules if any(m.worst == rule for m in scored)
    ]
    return (
        "An undefined value (one mask empty) and a case without a prediction count as the worst "
        f"value: {', '.join(parts)}. Each case's {phase.primary_metric} is the mean over the "
        "task's labels."
    )


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def rank_segmentation(phase: Phase, entrants: Sequence[Entrant]) -> PhaseBoard:
    """Rank the entrants of a segmentation phase and bootstrap the ranking (seeded)."""
    task = phase.task
    metrics = list(dict.fromkeys([phase.primary_metric, *phase.scored_metrics()]))
    per_case = case_values(task, entrants, metrics)
    matrix = task_matrix(task.key, [c.name for c in entrants], task.case_names,
                         per_case[phase.primary_metric])
    config = ranking_config(phase)
    ranked = rank_matrix(matrix, config, n_boot=phase.bootstrap_samples,
                         seed=phase.ranking_seed, title=f"Rank distribution: {task.name}")
    row_of = {c.name: k for k, c in enumerate(entrants)}
    result = board(ranked, [entrants[row_of[name]] for name in matrix.algorithms],
                   n_cases=len(task.cases))
    order = result.order
    superior = significance(matrix, config)[0][np.ix_(order, order)]
    rows = [row_of[matrix.algorithms[a]] for a in order]
    column_of = {case: j for j, case in enumerate(task.case_names)}
    columns = [column_of[case] for case in matrix.cases]
    result.statistics.update({
        "kind": "segmentation",
        "metric": phase.primary_metric,
        "ranking_method_description": config.description(),
        "missing_value_rule": missing_value_rule(phase),
        "seed": phase.ranking_seed if ranked.n_boot else None,
        "significance": superior.tolist(),
        "cases": list(matrix.cases),
        "case_values": {
            metric: [[rounded(v) for v in values[row, columns]] for row in rows]
            for metric, values in per_case.items()
        },
    })
    result.statistics["plots"]["significance"] = significance_map(
        [matrix.algorithms[a] for a in order], superior,
        title=f"Significance map: {task.name}", caption=_significance_caption(config),
    )
    return result


def _significance_caption(config: RankingConfig) -> str:
    adjusted = "" if config.adjust == "none" else f", {config.adjust.capitalize()}-adjusted"
    return (f"test: one-sided Wilcoxon signed-rank "
            f"test, α = {config.alpha:g}{adjusted}")
