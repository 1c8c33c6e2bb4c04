"""From per-case results to the numbers participants see: worst values and aggregates."""

import math
from collections import defaultdict
from collections.abc import Iterable

from challenges.models import DISTANCE_METRICS

BEST_OF_EMPTY = {"dice": 1.0, "nsd": 1.0, "hd": 0.0, "hd95": 0.0, "assd": 0.0}


def image_diagonal_mm(geometry: dict) -> float:
    """The physical diagonal of the image, sqrt(Σ (size_i · spacing_i)²), in mm."""
    spacing = geometry["spacing_mm"]
    shape = geometry["shape"][: len(spacing)]
    return math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing, strict=True)))


def worst_value(metric: str, *, config: dict, geometry: dict) -> float:
    """The value an undefined or missing result counts as: 0 for overlaps; for distances the
    phase's fixed worst distance, or else the case's image diagonal (no prediction can be
    farther off than that inside the image)."""
    if metric not in DISTANCE_METRICS:
        return 0.0
    fixed = config.get("worst_distance_mm")
    return float(fixed) if fixed is not None else image_diagonal_mm(geometry)


def missing_case_values(metrics: Iterable[str]) -> dict[str, float | None]:
    """What a case without a prediction records: overlaps 0, distances undefined."""
    return {m: (None if m in DISTANCE_METRICS else 0.0) for m in metrics}


def aggregate(rows: Iterable[dict], *, config: dict, geometries: dict[str, dict]) -> dict:
    """Mean of each metric per label over cases, undefined values counted as the worst value.

    ``rows`` are dicts with case, label and the metric values (None = undefined). Returns
    ``{"<label>": {metric: mean}}``, the shape the API returns under ``results.aggregate``.
    """
    metrics = config["metrics"]
    sums: dict[int, dict[str, float]] = defaultdict(lambda: dict.fromkeys(metrics, 0.0))
    counts: dict[int, int] = defaultdict(int)
    for row in rows:
        label = int(row["label"])
        counts[label] += 1
        for metric in metrics:
            value = row[metric]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                value = worst_value(metric, config=config, geometry=geometries[row["case"]])
            sums[label][metric] += value
    return {
        str(label): {m: sums[label][m] / counts[label] for m in metrics}
        for label in sorted(counts)
    }


def primary_score(aggregate_values: dict | None, metric: str) -> float | None:
    """One number per evaluation: the primary metric's mean over labels (segmentation), or the
    metric itself (detection: mAP, AP, AP50, AP75)."""
    if not aggregate_values:
        return None
    if metric in aggregate_values:
        value = aggregate_values[metric]
        return float(value) if value is not None else None
    per_label = [
        v[metric] for v in aggregate_values.values() if isinstance(v, dict) and metric in v
    ]
    if not per_label or any(v is None for v in per_label):
        return None
    return sum(per_label) / len(per_label)


def public_scores(values, decimals: int | None):
    """Scores as participants and visitors see them: every float in ``values`` (a number, or
    dicts and lists of them, such as an aggregate) rounded to ``decimals`` places; unchanged
    when ``decimals`` is None. Rounding coarsens what each submission learns about the hidden
    labels (docs/security.md); rankings are computed on the exact values."""
    if decimals is None:
        return values
    if isinstance(values, dict):
        return {key: public_scores(value, decimals) for key, value in values.items()}
    if isinstance(values, list | tuple):
        return [public_scores(value, decimals) for value in values]
    if isinstance(values, float) and math.isfinite(values):
        return round(values, decimals)
    return values
