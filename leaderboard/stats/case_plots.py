"""Per-case plots of one task and metric as SVG text: dot-and-box plot and podium plot.

- :func:`case_plot` — every case's value as a dot per algorithm over a box plot (box: quartiles
  with linear interpolation, line: median, whiskers: the most extreme values within 1.5 IQR of
  the box); missing values are counted under the algorithm's name, not drawn.
- :func:`podium_plot` — challengeR's podium plot: for each case, each algorithm's value is drawn
  in the column of the rank it took on that case (its own slot within the column), and the
  dots of one case are joined by a line; below, bars give how often each algorithm took each
  rank.
"""

from collections.abc import Sequence

import numpy as np

from leaderboard.stats import svg
from leaderboard.stats.table import TaskMatrix
from leaderboard.stats.ties import Ties, rank_scores

_LEFT, _TOP, _RIGHT = 70, 50, 30
_LABELS = 150
_PANEL = 320
_GOLDEN = 0.6180339887498949


def _ordered(matrix: TaskMatrix, order: Sequence[str] | None) -> list[int]:
    if order is None:
        return list(range(len(matrix.algorithms)))
    position = {name: k for k, name in enumerate(matrix.algorithms)}
    if sorted(order) != sorted(matrix.algorithms):
        raise ValueError("order must name every algorithm of the task once")
    return [position[name] for name in order]


def _value_axis(values: np.ndarray, top: float, height: float):
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    margin = 0.04 * (high - low)
    low, high = low - margin, high + margin
    ticks = svg.nice_ticks(low, high, count=8)

    def y_of(v: float) -> float:
        return top + height * (high - v) / (high - low)

    return y_of, ticks


def _axis(y_of, ticks: list[float], right: float, metric: str, top: float, height: float):
    body = [svg.text(18, top + height / 2, metric, rotate=-90)]
    for tick in ticks:
        body += [
            svg.line(_LEFT, y_of(tick), right, y_of(tick), stroke=svg.GRID),
            svg.text(_LEFT - 8, y_of(tick) + 4, f"{tick:g}", anchor="end"),
        ]
    return body


def _box(x: float, half: float, values: np.ndarray, y_of) -> list[str]:
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    reach = 1.5 * (q3 - q1)
    low = values[values >= q1 - reach].min()
    high = values[values <= q3 + reach].max()
    top, bottom = y_of(q3), y_of(q1)
    return [
        svg.line(x, y_of(high), x, top),
        svg.line(x, bottom, x, y_of(low)),
        svg.rect(
            x - half, top, 2 * half, bottom - top, fill="#ffffff", stroke=svg.INK, opacity=0.6
        ),
        svg.line(x - half, y_of(median), x + half, y_of(median), width=2),
    ]


def case_plot(
    matrix: TaskMatrix,
    *,
    metric: str = "value",
    order: Sequence[str] | None = None,
    title: str | None = None,
) -> str:
    """Dot-and-box plot of every case's value per algorithm (in ``order``, default by name)."""
    columns = _ordered(matrix, order)
    k = len(columns)
    column = float(np.clip(720 / max(k, 1), 28, 90))
    width, height = _LEFT + column * k + _RIGHT, _TOP + _PANEL + _LABELS
    y_of, ticks = _value_axis(matrix.values, _TOP, _PANEL)
    heading = title or f"{metric} per case: {matrix.task}"
    body = [svg.text(width / 2, 24, heading, size=14)]
    body += _axis(y_of, ticks, width - _RIGHT, metric, _TOP, _PANEL)
    jitter = ((np.arange(len(matrix.cases)) * _GOLDEN) % 1.0 - 0.5) * column * 0.6
    for position, a in enumerate(columns):
        x = _LEFT + column * (position + 0.5)
        row = matrix.values[a]
        seen = np.isfinite(row)
        if seen.any():
            body += _box(x, column * 0.3, row[seen], y_of)
        body += [
            svg.circle(x + jitter[j], y_of(row[j]), 2.2, fill=svg.colour(position), opacity=0.7)
            for j in np.flatnonzero(seen)
        ]
        missing = int((~seen).sum())
        name_y = _TOP + _PANEL + 14
        if missing:
            body.append(svg.text(x, name_y, f"n/a: {missing}", size=10))
            name_y += 14
        body.append(svg.label(x + 4, name_y, matrix.algorithms[a], rotate=-60))
    return svg.document(width, height, heading, body)


def _podium_bars(ranks: np.ndarray, columns: list[int], x_of, top: float, height: float):
    k = len(columns)
    right = x_of(k, 0)
    body = [
        svg.line(_LEFT, top + height, right, top + height),
        svg.line(_LEFT, top, right, top, stroke=svg.GRID),
        svg.text(_LEFT - 8, top + height + 4, "0 %", anchor="end"),
        svg.text(_LEFT - 8, top + 4, "100 %", anchor="end"),
        svg.text(18, top + height / 2, "cases", rotate=-90),
    ]
    for place in range(1, k + 1):
        for slot, a in enumerate(columns):
            share = float(np.mean(ranks[:, a] == place))
            x = x_of(place - 1, slot)
            bar = max((x_of(0, 1) - x_of(0, 0)) * 0.9, 1.0)
            body.append(
                svg.rect(
                    x - bar / 2,
                    top + height * (1 - share),
                    bar,
                    height * share,
                    fill=svg.colour(slot),
                )
            )
    return body


def podium_plot(
    matrix: TaskMatrix,
    *,
    larger_better: bool,
    metric: str = "value",
    order: Sequence[str] | None = None,
    ties: Ties = "min",
    title: str | None = None,
) -> str:
    """Podium plot: per case, each algorithm's value in the column of its rank on that case
    (ranked exactly, missing values last and not drawn); lines join the dots of a case; the
    bars below show the share of cases in which each algorithm took each rank."""
    columns = _ordered(matrix, order)
    k = len(columns)
    ranks = rank_scores(matrix.values.T, larger_better=larger_better, ties=ties, rel_tol=0)
    place_width = float(np.clip(760 / max(k, 1), 40, 160))
    slot = place_width / (k + 1)

    def x_of(place: int, position: int) -> float:
        return _LEFT + place_width * place + slot * (position + 1)

    bars_top = _TOP + _PANEL + 30
    width, height = _LEFT + place_width * k + _RIGHT, bars_top + 120 + 40 + 18 * k
    y_of, ticks = _value_axis(matrix.values, _TOP, _PANEL)
    heading = title or f"Podium: {matrix.task}"
    body = [svg.text(width / 2, 24, heading, size=14)]
    body += _axis(y_of, ticks, width - _RIGHT, metric, _TOP, _PANEL)
    for place in range(k):
        body.append(
            svg.text(
                _LEFT + place_width * (place + 0.5),
                _TOP + _PANEL + 18,
                f"rank {place + 1}",
                size=11,
            )
        )
    for j in range(len(matrix.cases)):
        points = sorted(
            (ranks[j, a], position, matrix.values[a, j])
            for position, a in enumerate(columns)
            if np.isfinite(matrix.values[a, j])
        )
        xy = [(x_of(int(np.floor(r)) - 1, position), y_of(v)) for r, position, v in points]
        body.append(svg.polyline(xy, stroke="#888888", opacity=0.35))
        body += [
            svg.circle(x, y, 2.5, fill=svg.colour(p), opacity=0.8)
            for (x, y), (_, p, _) in zip(xy, points, strict=True)
        ]
    body += _podium_bars(ranks, columns, x_of, bars_top, 120)
    for position, a in enumerate(columns):
        y = bars_top + 120 + 30 + 18 * position
        body += [
            svg.rect(_LEFT, y - 10, 12, 12, fill=svg.colour(position)),
            svg.label(_LEFT + 18, y, matrix.algorithms[a], anchor="start"),
        ]
    return svg.document(width, height, heading, body)
