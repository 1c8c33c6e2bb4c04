"""What the leaderboard pages show: formatted table rows and the per-case plots.

The per-case plots are drawn on request from the values the snapshot stores (nothing is
recomputed); the blob plot and the significance map were drawn by the worker, which had the
bootstrap. Every name in an SVG is escaped by ``leaderboard.stats.svg``. Where the phase rounds
public scores, the viewer's board is rounded already; shown numbers get at most as many
decimals, and the per-case plots are drawn from rounded values too.
"""

import hashlib
import math
from functools import cache
from pathlib import Path

import numpy as np
from django.conf import settings

from challenges.models import Phase
from evaluation.results import public_scores
from leaderboard.stats import TaskMatrix, case_plot, podium_plot
from scorers.metrics import metric, metric_label

from .exports import aggregate_cell, aggregate_columns

RELEASE_SOURCES = ("templates/**/*.html", "*/templates/**/*.html", "leaderboard/**/*.py",
                   "core/**/*.py", "scorers/metrics.py")
"""What the kept pages and plots are drawn with: the templates, the leaderboard's code, the
template tags and the metric registry's labels (paths under ``settings.BASE_DIR``)."""


@cache
def release() -> str:
    """The version of the code that draws leaderboard pages, part of every key under which
    they are kept (leaderboard.views), so that a deploy never serves markup kept by the one
    before: ``settings.PODIUM_RELEASE`` where the deploy names itself, else a digest of the
    files' paths and contents, read once per process."""
    named = getattr(settings, "PODIUM_RELEASE", "")
    if named:
        return str(named)
    root = Path(settings.BASE_DIR)
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted({path for pattern in RELEASE_SOURCES for path in root.glob(pattern)}):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _number(value, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def places(name: str, decimals: int | None) -> int:
    """The decimals a value of metric ``name`` is shown with: the metric registry's (as on the
    submission page), or fewer where the phase rounds public scores to fewer (``decimals``);
    4 for a metric no longer registered."""
    try:
        shown = metric(name).decimals
    except KeyError:
        shown = 4
    return shown if decimals is None else min(shown, decimals)


def _rank(value) -> str:
    return "—" if value is None else f"{value:g}"


def column_headings(phase: Phase) -> list[str]:
    """The page's headings of the aggregate columns: label names and metric headings ("liver
    HD95 (mm)"), where the CSV keeps the keys ("liver hd95")."""
    if phase.task.kind != "segmentation":  # detection, classification, survival: by metric
        return [metric_label(name) for (name, _), _ in aggregate_columns(phase)]
    return [f"{phase.task.labels[label]} {metric_label(name)}"
            for (label, name), _ in aggregate_columns(phase)]


def _rank_interval(low: float, high: float) -> str:
    """The rank's 95 % interval widened to whole ranks for the page ("1–4", never "1–3.025"):
    quantiles of ranks interpolate (R's type 7, as challengeR); the API keeps them exact."""
    return f"{math.floor(low + 1e-9)}–{math.ceil(high - 1e-9)}"


def table_rows(phase: Phase, board: dict, *, with_scores: bool,
               decimals: int | None) -> list[dict]:
    """One row per entry with display strings: score and its 95 % bootstrap interval, the
    rank's 95 % interval, P(rank 1) in percent, and the per-label aggregates; scores with
    the metric registry's places, fewer where the phase rounds to ``decimals`` (the ranking
    score: 3 places unless rounded)."""
    columns = aggregate_columns(phase) if with_scores else []
    digits = places(board.get("metric") or phase.primary_metric, decimals)
    # A segmentation column's key is (label, metric), a detection column's (metric, None).
    cell_digits = [places(second or first, decimals) for (first, second), _ in columns]
    rows = []
    for entry in board["entries"]:
        low, high = entry.get("rank_q025"), entry.get("rank_q975")
        p_first = entry.get("p_rank1")
        row = {
            "rank": _rank(entry["rank"]),
            "entrant": entry["entrant"],
            "description": entry["description"],
            "rank_interval": "—" if low is None else _rank_interval(low, high),
            "p_rank1": "—" if p_first is None else f"{100 * p_first:.1f} %",
            "n_cases": entry.get("n_cases", "—"),
        }
        if with_scores:
            score_low, score_high = entry.get("score_q025"), entry.get("score_q975")
            row["score"] = _number(entry.get("score"), digits)
            row["score_interval"] = (
                "" if score_low is None and score_high is None
                else f"[{_number(score_low, digits)}, {_number(score_high, digits)}]"
            )
            row["ranking_score"] = _number(entry.get("ranking_score"),
                                           3 if decimals is None else decimals)
            row["cells"] = [_number(aggregate_cell(entry.get("aggregate") or {}, key), shown)
                            for (key, _), shown in zip(columns, cell_digits, strict=True)]
        rows.append(row)
    return rows


def per_case_plots(phase: Phase, board: dict, statistics: dict, metric: str, *,
                   decimals: int | None) -> dict[str, str]:
    """The dot-and-box plot and the podium plot of ``metric`` per case (values rounded to
    ``decimals`` places unless None), participants in rank order; empty when the snapshot
    holds no per-case values for it."""
    values = public_scores((statistics.get("case_values") or {}).get(metric), decimals)
    if not values:
        return {}
    names = tuple(entry["entrant"] for entry in board["entries"])
    matrix = TaskMatrix(
        task=phase.task.name,
        algorithms=names,
        cases=tuple(statistics["cases"]),
        values=np.array([[np.nan if v is None else v for v in row] for row in values],
                        dtype=np.float64),
    )
    label = metric_label(metric)
    return {
        "cases": case_plot(matrix, metric=label, order=names,
                           title=f"{label} per case: {phase.task.name}"),
        "podium": podium_plot(matrix, larger_better=phase.larger_is_better(metric),
                              metric=label, order=names, ties=phase.ranking_ties,
                              title=f"Podium ({label}): {phase.task.name}"),
    }
