"""A classification or survival phase's leaderboard: a set-level metric, bootstrapped over cases.

AUROC, the C-index and the others are values of the whole test set, not means of per-case
values, so the phase's ranking method does not apply: entrants are ranked by the primary
metric (its registry direction, the phase's ties; an undefined value ranks last). The
bootstrap re-computes that metric on each resample of the test cases
(``leaderboard.stats.clinical.clinical_bootstrap``, the phase's seed and resample count) from
each entrant's predictions, stored per case when its evaluation was scored
(``evaluation.kinds.clinical``), and the hidden labels of the ground-truth version they were
scored against; a refresh never re-reads an upload. Entrants scored against different
versions (a re-evaluation under way) are ranked by their stored values, without a bootstrap.
The significance map uses DeLong's test for AUROC, else the paired bootstrap test on the same
resamples (two-sided, the phase's α and p-value adjustment). The integrated Brier score is
re-computed from the stored survival curves; where an entrant sent none (its score undefined,
ranked last), the phase is ranked by the stored values without a bootstrap.
"""

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from challenges.models import CURVE_METRICS, Phase
from evaluation.kinds.clinical import ground_truth, metric_settings, predictions_of
from leaderboard.stats import significance_map
from leaderboard.stats.clinical import (
    clinical_bootstrap,
    delong_pvalues,
    paired_bootstrap_pvalues,
    significance_matrix,
)
from scorers.metrics import metric

from ..entrants import Entrant
from ..ranked import PhaseBoard, Ranked, board, by_aggregate, from_bootstrap

log = logging.getLogger(__name__)


def ranked_metric(phase: Phase) -> str:
    """The phase's primary metric, or its task's default (``Phase.default_primary_metric``:
    macro_auroc for more than two classes) when it cannot compute it."""
    choices = phase.primary_metric_choices()
    return phase.primary_metric if phase.primary_metric in choices else (
        phase.default_primary_metric())


def rank_clinical(phase: Phase, entrants: Sequence[Entrant]) -> PhaseBoard:
    """Rank the entrants of a classification or survival phase; bootstrap the primary metric
    over the test cases when the phase asks for resamples."""
    task = phase.task
    name = ranked_metric(phase)
    entrants = sorted(entrants, key=lambda c: c.name)
    ranked, pvalues, test = None, None, ""
    inputs = bootstrap_inputs(phase, entrants) if entrants else None
    if inputs is not None and phase.bootstrap_samples > 0:
        predictions, truth = inputs
        bootstrap = clinical_bootstrap(
            predictions, truth, metric=name, config=metric_settings(phase.metric_config(), truth),
            n_boot=phase.bootstrap_samples, seed=phase.ranking_seed, ties=phase.ranking_ties,
            task=task.key, cases=task.case_names,
        )
        ranked = from_bootstrap(bootstrap, title=f"Rank distribution: {task.name}")
        pvalues, test = paired_bootstrap_pvalues(bootstrap.aggregates), "paired bootstrap test"
    if inputs is not None and name == "auroc":
        predictions, truth = inputs
        probs = np.stack([predictions[e.name]["probability"] for e in entrants])
        pvalues, test = delong_pvalues(probs, truth["label"]), "DeLong's test"
    if ranked is None:
        ranked = by_aggregate(entrants, name, ties=phase.ranking_ties)
    result = board(ranked, entrants, n_cases=len(task.cases))
    result.statistics.update({
        "kind": task.kind,
        "metric": name,
        "ranking_method_description": ranking_description(phase, bootstrapped=bool(ranked.n_boot)),
        "missing_value_rule": missing_value_rule(phase),
        "seed": phase.ranking_seed if ranked.n_boot else None,
    })
    if pvalues is not None:
        _add_significance(result, phase, entrants, ranked, pvalues, test)
    return result


def _add_significance(result: PhaseBoard, phase: Phase, entrants: Sequence[Entrant],
                      ranked: Ranked, pvalues: np.ndarray, test: str) -> None:
    """The significance map of the pairwise two-sided tests (``pvalues``, in the entrants'
    order), adjusted and at α as the phase sets them, rows and columns in rank order."""
    order = result.order
    superior = significance_matrix(
        pvalues, ranked.score, larger_better=metric(result.statistics["metric"]).larger_better,
        alpha=phase.ranking_alpha, adjust=phase.ranking_adjust)[np.ix_(order, order)]
    adjusted = "" if phase.ranking_adjust == "none" else (
        f", {phase.ranking_adjust.capitalize()}-adjusted")
    result.statistics["significance"] = superior.tolist()
    result.statistics["significance_test"] = test
    result.statistics["plots"]["significance"] = significance_map(
        [entrants[a].name for a in order], superior,
        title=f"Significance map: {phase.task.name}",
        caption=f"test: two-sided {test}, "
                f"α = {phase.ranking_alpha:g}{adjusted}")


def bootstrap_inputs(phase: Phase, entrants: Sequence[Entrant]) -> tuple[dict, dict] | None:
    """Every entrant's stored predictions by entrant name, and the hidden labels they were all
    scored against; None when an evaluation has no stored predictions or the entrants were
    scored against different ground-truth versions."""
    task = phase.task
    stored = predictions_of([e.evaluation.id for e in entrants], task)
    versions = {e.evaluation.ground_truth_id for e in entrants}
    if any(e.evaluation.id not in stored for e in entrants) or len(versions) != 1:
        log.info("task %s: predictions missing or ground-truth versions differ; ranked without "
                 "a bootstrap", task.key)
        return None
    if ranked_metric(phase) in CURVE_METRICS and any(
            "survival" not in stored[e.evaluation.id] for e in entrants):
        log.info("task %s: an entrant sent no survival curves; ranked by the integrated Brier "
                 "score without a bootstrap", task.key)
        return None
    with tempfile.TemporaryDirectory() as scratch:
        truth = ground_truth(entrants[0].evaluation, task, Path(scratch))
    return {e.name: stored[e.evaluation.id] for e in entrants}, truth


def ranking_description(phase: Phase, *, bootstrapped: bool) -> str:
    """How the phase ranks, in words, after the metric's name ("Ranking by AUROC: …")."""
    entry = metric(ranked_metric(phase))
    return (
        f"one value over all {len(phase.task.cases)} test cases, not a mean of per-case values "
        f"({entry.direction}; ties: {phase.ranking_ties})"
        + ("; the rank uncertainty comes from a bootstrap over the test cases, re-computing "
           "the metric on each resample" if bootstrapped else "")
        + "."
    )


def missing_value_rule(phase: Phase) -> str:
    """What a missing prediction or an undefined score counts as, in words."""
    name = ranked_metric(phase)
    why = " (sent without survival curves)" if name in CURVE_METRICS else ""
    return ("A predictions file must hold every test case exactly once; a submission whose "
            f"{metric(name).label} is undefined{why} ranks last.")
