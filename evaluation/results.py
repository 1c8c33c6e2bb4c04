"""From per-case results to the numbers participants see: worst values and aggregates."""

import math
from collections import defaultdict
from collections.abc import Iterable

from scorers.metrics import metric


def worst_value(name: str, *, config: dict, geometry: dict) -> float:
    """The value an undefined or missing result of metric ``name`` counts as, under the
    evaluation's recorded ``config`` (its worst distance), for a case of ``geometry``
    (:meth:`scorers.metrics.Metric.worst_value`)."""
    return metric(name).worst_value(worst_distance_mm=config.get("worst_distance_mm"),
                                    geometry=geometry)


def missing_case_values(metrics: Iterable[str]) -> dict[str, float | None]:
    """What a case without a prediction records, per metric (None: undefined)."""
    return {name: metric(name).missing_value for name in metrics}


def aggregate(rows: Iterable[dict], *, config: dict, geometries: dict[str, dict]) -> dict:
    """Mean of each metric per label over cases, undefined values counted as the worst value.

    ``rows`` are dicts with case, label and values (metric → value, None = undefined).
    Returns ``{"<label>": {metric: mean}}``, the shape the API returns under
    ``results.aggregate``. Sums are exact (:func:`math.fsum`), so the order in which shards
    wrote the rows never changes a digit, and ``podium-score --config`` gets the same numbers.
    """
    metrics = config["metrics"]
    values: dict[int, dict[str, list]] = defaultdict(lambda: {m: [] for m in metrics})
    for row in rows:
        label = int(row["label"])
        for name in metrics:
            value = row["values"].get(name)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                value = worst_value(name, config=config, geometry=geometries[row["case"]])
            values[label][name].append(value)
    return {
        str(label): {m: math.fsum(values[label][m]) / len(values[label][m]) for m in metrics}
        for label in sorted(values)
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
