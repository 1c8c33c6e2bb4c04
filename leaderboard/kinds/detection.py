"""A detection phase's leaderboard: mAP, bootstrapped over the test images.

mAP is not a per-case value, so the ranking method of the phase does not apply: entrants are
ranked by their primary metric (larger is better, the phase's ties; an undefined value ranks
last). With VOC mAP as the primary metric, the worker reads each selected evaluation's TP/FP
decisions, stored per image and class when it was scored (``evaluation.kinds.detection``,
decided by ``scorers.detection.match_voc`` with the phase's IoU threshold and +1 convention,
which every ranked evaluation shares), and bootstraps mAP over images
(``leaderboard.stats.detection_bootstrap``, the phase's seed and 11-point setting); a refresh
never re-reads an upload. COCO AP metrics are ranked without a bootstrap.
"""

import logging
from collections.abc import Sequence

from challenges.models import Phase
from evaluation.kinds.detection import matches_of
from leaderboard.stats import detection_bootstrap
from scorers.detection import VocMatches
from scorers.metrics import DETECTION, default_metric, metric_names

from ..entrants import Entrant
from ..ranked import PhaseBoard, board, by_aggregate, from_bootstrap

log = logging.getLogger(__name__)


def rank_detection(phase: Phase, entrants: Sequence[Entrant]) -> PhaseBoard:
    """Rank the entrants of a detection phase; bootstrap VOC mAP over images when it is the
    primary metric and the phase asks for resamples."""
    task = phase.task
    metric = ranked_metric(phase)
    entrants = sorted(entrants, key=lambda c: c.name)
    ranked = None
    if metric == "mAP" and phase.bootstrap_samples > 0:
        matches = voc_matches(entrants, task)
        if matches is not None:
            bootstrap = detection_bootstrap(
                matches, task=task.key, n_boot=phase.bootstrap_samples, seed=phase.ranking_seed,
                voc2007=phase.voc2007, ties=phase.ranking_ties,
            )
            ranked = from_bootstrap(bootstrap, title=f"Rank distribution: {task.name}")
    if ranked is None:
        ranked = by_aggregate(entrants, metric, ties=phase.ranking_ties)
    result = board(ranked, entrants, n_cases=len(task.cases))
    result.statistics.update({
        "kind": "detection",
        "metric": metric,
        "ranking_method_description": ranking_description(phase, bootstrapped=bool(ranked.n_boot)),
        "missing_value_rule": missing_value_rule(phase),
        "seed": phase.ranking_seed if ranked.n_boot else None,
    })
    return result


def ranking_description(phase: Phase, *, bootstrapped: bool) -> str:
    """How the phase ranks, in words, after the metric's name: the leaderboard shows "Ranking
    by mAP: <this>", the Evaluation page "The leaderboard ranks by mAP: <this>"."""
    return (
        f"one value over all {len(phase.task.cases)} test images, not a mean of per-image "
        f"values (larger is better; ties: {phase.ranking_ties})"
        + ("; the rank uncertainty comes from a bootstrap over the test images"
           if bootstrapped else "")
        + "."
    )


def missing_value_rule(phase: Phase) -> str:
    """What a missing prediction or an undefined score counts as, in words."""
    return ("An image without predictions counts its boxes as missed; a submission whose "
            f"{ranked_metric(phase)} is undefined ranks last.")


def voc_matches(entrants: Sequence[Entrant], task) -> dict[str, VocMatches] | None:
    """Every entrant's TP/FP decisions, by entrant name, as its evaluation stored them at
    scoring time (no upload is read); None when an evaluation has none stored (scored before
    Podium kept them: re-evaluate to bootstrap)."""
    stored = matches_of([e.evaluation.id for e in entrants], task)
    if any(e.evaluation.id not in stored for e in entrants):
        log.info("task %s: an evaluation has no stored matches; ranked without a bootstrap",
                 task.key)
        return None
    return {e.name: stored[e.evaluation.id] for e in entrants}


def ranked_metric(phase: Phase) -> str:
    """The phase's primary metric, or VOC mAP when that is not a detection metric."""
    names = metric_names(DETECTION)
    return phase.primary_metric if phase.primary_metric in names else default_metric(DETECTION)
