"""A phase's configuration exported by the platform (``/phases/<id>/config.json``), as the
scoring CLI reads it (``--config``), and the platform's rules it brings offline.

With it, ``podium-score segmentation`` scores exactly as the phase does: the same metrics,
labels, tolerances and surface; the same test cases (a missing prediction is refused unless the
phase accepts partial submissions, then it counts as the worst value); and the same aggregate,
the mean over every test case with an undefined value (one mask empty) or a missing case
counted as the metric's worst value (:meth:`scorers.metrics.Metric.worst_value`: 0 for Dice
and NSD; the phase's worst distance, or else the case's image diagonal, for distances).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scorers.errors import InputError
from scorers.metrics import DETECTION, SEGMENTATION, metric, metric_names

FORMAT = "podium-phase-config"
VERSION = 1


@dataclass(frozen=True)
class SegmentationPhase:
    """What scoring a segmentation phase needs: ``labels`` the scored label values and their
    names, ``cases`` every test case with its image geometry (``shape``, ``spacing_mm``),
    ``allowed`` every label value a prediction may hold, ``ranked_metric`` the metric the
    leaderboard ranks, ``accepts_dicom_seg`` whether the phase takes a DICOM SEG ``<case>.dcm``
    for a case (decoded on the platform against the case's test series, which the
    configuration does not carry; its ``seg_fractional_threshold`` is not used offline)."""

    task: str
    labels: dict[int, str]
    allowed: list[int]
    metrics: list[str]
    tolerances: dict[int, float]
    surface: str
    worst_distance_mm: float | None
    allow_partial: bool
    cases: dict[str, dict]
    ranked_metric: str
    accepts_dicom_seg: bool = False

    def worst_value(self, name: str, case: str) -> float:
        """What an undefined or missing value of metric ``name`` counts as on ``case``."""
        return metric(name).worst_value(worst_distance_mm=self.worst_distance_mm,
                                        geometry=self.cases[case])


@dataclass(frozen=True)
class DetectionPhase:
    """What scoring a detection phase needs: its VOC matching settings."""

    iou_threshold: float
    voc2007: bool
    plus_one: bool


def load_phase_config(path: Path, error: type[Exception] = InputError,
                      program: str = "podium-score") -> dict:
    """A phase's exported configuration file, read and checked to be one of a version these
    tools read; anything else raises ``error`` (each CLI's own) with a one-line message."""
    where = f"--config {path.name}"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        raise error(f"{where}: cannot be read") from None
    except ValueError:
        raise error(f"{where}: not JSON (expected a phase's config.json)") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise error(f"{where}: not a phase configuration (download it from the "
                    "challenge's Evaluation page)")
    if config.get("version") != VERSION:
        raise error(f"{where}: version {config.get('version')!r} is not supported "
                    f"(this {program} reads version {VERSION})")
    return config


def read_phase_config(path: Path, kind: str) -> SegmentationPhase | DetectionPhase:
    """Read and check the exported configuration of a phase of task kind ``kind``."""
    where = f"--config {path.name}"
    config = load_phase_config(path)
    try:
        actual = config["task"]["kind"]
        if actual != kind:
            raise InputError(f"{where}: a {actual} phase; use podium-score {actual}")
        scoring = config["scoring"]
        if kind == DETECTION:
            return DetectionPhase(iou_threshold=float(scoring["iou_threshold"]),
                                  voc2007=bool(scoring["voc2007"]),
                                  plus_one=bool(scoring["plus_one"]))
        return _segmentation(config, scoring)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InputError(f"{where}: incomplete or malformed (download it again from the "
                         "challenge's Evaluation page)") from None


def _segmentation(config: dict, scoring: dict) -> SegmentationPhase:
    names = {int(value): str(name) for value, name in config["task"]["labels"].items()}
    labels = [int(label) for label in scoring["labels"]]
    metrics = [str(name) for name in scoring["metrics"]]
    unknown = sorted(set(metrics) - set(metric_names(SEGMENTATION)))
    if unknown:
        raise InputError(f"--config: unknown metrics {', '.join(unknown)} (a newer Podium?)")
    worst = scoring["worst_distance_mm"]
    return SegmentationPhase(
        task=str(config["task"]["key"]),
        labels={label: names.get(label, "") for label in labels},
        allowed=sorted(names),
        metrics=metrics,
        tolerances={int(k): float(v) for k, v in scoring["nsd_tolerance_mm"].items()},
        surface=str(scoring["surface"]),
        worst_distance_mm=None if worst is None else float(worst),
        allow_partial=bool(config["allow_partial"]),
        cases={case["name"]: {"shape": [int(n) for n in case["shape"]],
                              "spacing_mm": [float(s) for s in case["spacing_mm"]]}
               for case in config["cases"]},
        ranked_metric=str(config["ranking"]["metric"]),
        accepts_dicom_seg=bool(config.get("accepts_dicom_seg", False)),  # older files lack it
    )


def missing_row(phase: SegmentationPhase) -> dict[str, float | None]:
    """What a case without a prediction records, per metric (None: undefined)."""
    return {name: metric(name).missing_value for name in phase.metrics}


def recorded(value: float) -> float | None:
    """A value as the platform stores it: None for an undefined (non-finite) one."""
    return float(value) if math.isfinite(value) else None


def phase_aggregate(rows: Sequence[Mapping], phase: SegmentationPhase) -> dict[str, dict]:
    """Per label and metric, the mean over the phase's cases with undefined and missing values
    counted as the worst value: the evaluation's aggregate on the platform (same shape, same
    numbers; summed with :func:`math.fsum`, so the order of the cases does not matter)."""
    summary: dict[str, dict] = {}
    for label in phase.labels:
        per_label = [row for row in rows if row["label"] == label]
        summary[str(label)] = {
            name: math.fsum(_with_worst(row, name, phase) for row in per_label) / len(per_label)
            for name in phase.metrics
        }
    return summary


def ranking_values(rows: Sequence[Mapping], phase: SegmentationPhase) -> dict[str, float]:
    """Per case (in the phase's order), the ranked metric averaged over the labels, worst
    values substituted first: the value the leaderboard ranks (its ranking-input.csv)."""
    by_key = {(row["case"], row["label"]): row for row in rows}
    grid = np.array([[_with_worst(by_key[case, label], phase.ranked_metric, phase)
                      for label in phase.labels] for case in phase.cases], dtype=np.float64)
    # Along the last axis, as leaderboard.case_tables averages its (entrant, case, label) array.
    means = grid.mean(axis=1)
    return {case: float(means[j]) for j, case in enumerate(phase.cases)}


def _with_worst(row: Mapping, name: str, phase: SegmentationPhase) -> float:
    value = row[name]
    return phase.worst_value(name, row["case"]) if value is None else float(value)
