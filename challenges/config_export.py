"""A phase's configuration as JSON (``/phases/<id>/config.json``), for the offline CLIs.

``podium-score --config`` and ``podium-rank --config`` read this file to score and rank exactly
as the platform does: the metrics, tolerances and surface the evaluation records, the labels by
value and name, the worst-value rules (missing cases, one mask empty), the test cases with the
public geometry of their images (the image diagonal is the default worst distance), and the
ranking method and its options. It is what the Evaluation page says in words, so whoever may
see the phase may download it. It never holds ground-truth content, storage paths or anything
else the pages keep from participants.
"""

import re

from django.http import JsonResponse

from scorers.metrics import (
    DETECTION,
    SEGMENTATION,
    WORST_ZERO,
    default_metric,
    metric,
    metric_names,
)

from . import provenance
from .models import Phase, Task
from .visibility import visible_phase

FORMAT = "podium-phase-config"
VERSION = 1


def phase_config(phase: Phase) -> dict:
    """The exported configuration of ``phase`` (docs/scorers.md, "The phase's configuration")."""
    task = phase.task
    config = {
        "format": FORMAT,
        "version": VERSION,
        "challenge": task.challenge.slug,
        "task": {"key": task.key, "name": task.name, "kind": task.kind, "labels": task.labels},
        "phase": {"id": str(phase.id), "name": phase.name},
        "scoring": phase.metric_config(),
        "ranking": _ranking(phase),
        "public_score_decimals": phase.public_score_decimals,
        # The version scored and where its labels come from (never the labels or paths).
        "ground_truth": (provenance.public(phase.active_ground_truth)
                         if phase.active_ground_truth_id else None),
    }
    if task.kind in Task.CLINICAL_KINDS:  # target, classes, positive class, time unit
        config["task"]["clinical"] = task.clinical
    if task.kind == SEGMENTATION:
        config["allow_partial"] = phase.allow_partial
        # Whether a case may be predicted by a DICOM SEG <case>.dcm, and its fractional
        # threshold (null where SEG is not accepted; docs/dicom.md, "DICOM SEG predictions").
        config["accepts_dicom_seg"] = phase.accepts_dicom_seg
        config["seg_fractional_threshold"] = (phase.seg_fractional_threshold
                                              if phase.accepts_dicom_seg else None)
        config["worst_values"] = {name: _worst(phase, name) for name in phase.scored_metrics()}
        config["cases"] = [
            {"name": case["name"], "shape": case["geometry"]["shape"],
             "spacing_mm": case["geometry"]["spacing_mm"]}
            for case in task.cases
        ]
    return config


def _worst(phase: Phase, name: str) -> dict:
    """What an undefined value (one mask empty) and a case without a prediction count as for
    metric ``name`` (:meth:`scorers.metrics.Metric.worst_value`): ``value`` null stands for the
    case's image diagonal in mm; ``missing_case`` is what such a case records (null:
    undefined, so the worst value)."""
    entry = metric(name)
    value = 0.0 if entry.worst == WORST_ZERO else phase.worst_distance_mm
    return {"rule": entry.worst, "value": value, "missing_case": entry.missing_value}


def _ranking(phase: Phase) -> dict:
    """The ranking method and options. A segmentation phase ranks each case's primary metric
    averaged over the labels, as leaderboard.kinds.segmentation.ranking_config configures it
    (``na`` included, though no value is missing once worst values are substituted); a
    detection phase ranks its primary metric's value (VOC mAP when that is no detection
    metric)."""
    if phase.task.kind == DETECTION:
        names = metric_names(DETECTION)
        ranked = phase.primary_metric if phase.primary_metric in names else default_metric(
            DETECTION)
        return {"metric": ranked, "larger_better": True, "ties": phase.ranking_ties,
                "bootstrap_samples": phase.bootstrap_samples, "seed": phase.ranking_seed,
                "selection": phase.leaderboard_selection}
    if phase.task.kind in Task.CLINICAL_KINDS:  # a value of the whole set, as detection
        return {"metric": phase.primary_metric,
                "larger_better": metric(phase.primary_metric).larger_better,
                "ties": phase.ranking_ties, "bootstrap_samples": phase.bootstrap_samples,
                "seed": phase.ranking_seed, "selection": phase.leaderboard_selection}
    primary = metric(phase.primary_metric)
    if primary.worst == WORST_ZERO:
        na: float | str = 0.0
    else:
        na = phase.worst_distance_mm if phase.worst_distance_mm is not None else "worst"
    return {
        "metric": primary.name,
        "larger_better": primary.larger_better,
        "method": phase.ranking_method,
        "ties": phase.ranking_ties,
        "adjust": phase.ranking_adjust,
        "alpha": phase.ranking_alpha,
        "na": na,
        "bootstrap_samples": phase.bootstrap_samples,
        "seed": phase.ranking_seed,
        "selection": phase.leaderboard_selection,
    }


def phase_config_json(request, phase_id):
    """The configuration of a phase the user may see, as a JSON download (404 otherwise)."""
    phase = visible_phase(request.user, phase_id)
    response = JsonResponse(phase_config(phase), json_dumps_params={"indent": 1})
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{phase.task.key}-{phase.name}").strip("._")
    response["Content-Disposition"] = f'attachment; filename="{stem}-config.json"'
    return response
