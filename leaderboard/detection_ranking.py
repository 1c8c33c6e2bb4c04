"""A detection phase's leaderboard: mAP, bootstrapped over the test images.

mAP is not a per-case value, so the ranking method of the phase does not apply: contenders are
ranked by their primary metric (larger is better, the phase's ties; an undefined value ranks
last). With VOC mAP as the primary metric, the worker re-reads each selected submission's
boxes and the ground truth, decides every TP/FP once (``scorers.detection.match_voc``, with the
phase's current IoU threshold and +1 convention) and bootstraps mAP over images
(``leaderboard.stats.detection_bootstrap``, the phase's seed and 11-point setting). COCO AP
metrics are ranked without a bootstrap.
"""

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from django.core.files.storage import default_storage

from challenges.models import DETECTION_METRICS, Phase
from core.storage import local_path
from evaluation import detection_predictions
from evaluation.results import primary_score
from leaderboard.stats import detection_bootstrap
from leaderboard.stats.ties import rank_scores
from scorers.detection import VocMatches, match_voc
from scorers.errors import InputError

from .contenders import Contender
from .ranked import PhaseBoard, Ranked, board, from_bootstrap

log = logging.getLogger(__name__)


def rank_detection(phase: Phase, contenders: Sequence[Contender], scratch: Path) -> PhaseBoard:
    """Rank the contenders of a detection phase; bootstrap VOC mAP over images when it is the
    primary metric and the phase asks for resamples."""
    task = phase.task
    metric = ranked_metric(phase)
    contenders = sorted(contenders, key=lambda c: c.name)
    ranked = None
    if metric == "mAP" and phase.bootstrap_samples > 0:
        matches = _matches_or_none(phase, contenders, scratch)
        if matches is not None:
            bootstrap = detection_bootstrap(
                matches, task=task.key, n_boot=phase.bootstrap_samples, seed=phase.ranking_seed,
                voc2007=phase.voc2007, ties=phase.ranking_ties,
            )
            ranked = from_bootstrap(bootstrap, title=f"Rank distribution: {task.name}")
    if ranked is None:
        ranked = _by_aggregate(phase, contenders, metric)
    result = board(ranked, contenders, n_cases=len(task.cases))
    result.statistics.update({
        "kind": "detection",
        "metric": metric,
        "description": (
            f"ranked by {metric} (larger is better; ties: {phase.ranking_ties})"
            + (f"; bootstrap over the {len(task.cases)} test images" if ranked.n_boot else "")
            + "."
        ),
        "missing_rule": (
            "An image without predictions counts its boxes as missed; a submission whose "
            f"{metric} is undefined ranks last."
        ),
        "seed": phase.ranking_seed if ranked.n_boot else None,
    })
    return result


def voc_matches(
    phase: Phase, contenders: Sequence[Contender], scratch: Path
) -> dict[str, VocMatches]:
    """Every contender's TP/FP decisions against the active ground truth, by contender name."""
    task = phase.task
    truth = detection_predictions.ground_truth(contenders[0].evaluation, task, scratch)
    matches = {}
    for index, contender in enumerate(contenders):
        evaluation = contender.evaluation
        folder = scratch / f"boxes-{index}"
        folder.mkdir()
        name = evaluation.outputs or evaluation.submission.file.name
        with local_path(default_storage, name, folder) as upload:
            detections = detection_predictions.load(upload, task, folder)
        shutil.rmtree(folder)
        matches[contender.name] = match_voc(truth, detections, iou_threshold=phase.iou_threshold,
                                            plus_one=phase.plus_one)
    return matches


def _matches_or_none(phase: Phase, contenders: Sequence[Contender], scratch: Path):
    try:
        return voc_matches(phase, contenders, scratch)
    except (InputError, OSError, KeyError):
        log.exception("phase %s: boxes unreadable; leaderboard ranked without a bootstrap",
                      phase.id)
        return None


def ranked_metric(phase: Phase) -> str:
    """The phase's primary metric, or VOC mAP when that is not a detection metric."""
    return phase.primary_metric if phase.primary_metric in DETECTION_METRICS else "mAP"


def _by_aggregate(phase: Phase, contenders: Sequence[Contender], metric: str) -> Ranked:
    scores = np.array([
        np.nan if (value := primary_score(c.evaluation.aggregate, metric)) is None else value
        for c in contenders
    ], dtype=np.float64)
    return Ranked(
        rank=rank_scores(scores, larger_better=True, ties=phase.ranking_ties),
        ranking_score=scores,
        score=scores,
        aggregate=metric,
    )
