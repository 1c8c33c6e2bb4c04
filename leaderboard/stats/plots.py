"""Leaderboard plots as SVG text (no plotting library): rank uncertainty and significance.

- :func:`blob_plot` — challengeR's blob plot of one task's bootstrap: per algorithm (x, in
  full-data rank order) a blob at every rank it took, its area proportional to the share of
  resamples; a cross at the median rank and a line over the 2.5 %–97.5 % rank quantiles.
- :func:`significance_map` — challengeR's significance map: cell (row i, column j) is filled
  when algorithm i is significantly superior to algorithm j.
- :func:`ranks_across_tasks` — challengeR's line plot of ranks across tasks: per algorithm a
  line through its rank in every task.

Per-case plots are in :mod:`leaderboard.stats.case_plots`. Every user-supplied name passes
through :mod:`leaderboard.stats.svg`, which escapes it.
"""

from collections.abc import Sequence

import numpy as np

from leaderboard.stats import svg
from leaderboard.stats.bootstrap import TaskBootstrap
from leaderboard.stats.ties import rank_order

_LEFT, _TOP, _RIGHT = 70, 50, 30
_LABELS = 175  # room for rotated algorithm names (24 characters) above the caption
_SUPERIOR, _NOT_SUPERIOR = "#e6ab02", "#dbe6f3"  # significance map cells
_LEGEND_WIDTH = _LEFT + 600 + _RIGHT  # the significance map's legend, with its note


def _caption_width(caption: str) -> float:
    """Room for a caption at font size 11 (about 6.5 px per character) after the left margin,
    so that a plot of few algorithms does not cut its caption off."""
    return _LEFT + 6.5 * len(caption) + _RIGHT


def _blob_column(x: float, ranks: np.ndarray, y_of, radius: float, fill: str) -> str:
    values, counts = np.unique(ranks, return_counts=True)
    radii = radius * np.sqrt(counts / len(ranks))
    return svg.circle_column(x, [y_of(v) for v in values.tolist()], radii.tolist(), fill=fill,
                             opacity=0.75)


def blob_plot(bootstrap: TaskBootstrap, *, title: str | None = None) -> str:
    """Blob plot of the bootstrap rank distribution of every algorithm of one task.

    x: algorithms in full-data rank order (ties by name); y: rank, 1 at the top. A blob's area
    is proportional to the share of resamples in which the algorithm took that rank; the black
    cross marks the median rank, the black line the 2.5 %–97.5 % rank quantiles.
    """
    summary = bootstrap.summary()
    order = rank_order(summary.full_rank, summary.algorithms)
    k = len(order)
    column = float(np.clip(720 / max(k, 1), 28, 70))
    row = float(np.clip(420 / max(k, 1), 14, 36))
    caption = (
        f"{len(bootstrap.boot)} resamples; area ∝ share of resamples; "
        "× median rank; line: 95 % interval"
    )
    width = max(_LEFT + column * k + _RIGHT, _caption_width(caption))
    radius = 0.5 * min(column, row * 1.6)
    # A blob at the last rank may reach below its row (by radius − row / 2, most with one
    # entrant): the names start under it, not on it.
    bottom = _TOP + row * k + max(0.0, radius - row / 2)
    height = bottom + _LABELS

    def x_of(position: int) -> float:
        return _LEFT + column * (position + 0.5)

    def y_of(rank: float) -> float:
        return _TOP + row * (rank - 0.5)

    body = [svg.text(width / 2, 24, title or f"Rank distribution: {bootstrap.task}", size=14)]
    for r in range(1, k + 1):
        body += [
            svg.line(_LEFT, y_of(r), width - _RIGHT, y_of(r), stroke=svg.GRID),
            svg.text(_LEFT - 8, y_of(r) + 4, str(r), anchor="end"),
        ]
    body.append(svg.text(18, _TOP + row * k / 2, "rank", rotate=-90))
    for position, a in enumerate(order):
        x = x_of(position)
        body.append(_blob_column(x, bootstrap.ranks[:, a], y_of, radius, svg.colour(position)))
        body.append(svg.line(x, y_of(summary.q025[a]), x, y_of(summary.q975[a]), width=1.5))
        median_y = y_of(summary.median_rank[a])
        body += [
            svg.line(x - 5, median_y - 5, x + 5, median_y + 5, width=2),
            svg.line(x - 5, median_y + 5, x + 5, median_y - 5, width=2),
            svg.label(x + 4, bottom + 12, summary.algorithms[a], rotate=-60),
        ]
    body.append(svg.text(_LEFT, height - 10, caption, anchor="start", size=11))
    return svg.document(width, height, title or f"Rank distribution: {bootstrap.task}", body)


def _superior_runs(superior: np.ndarray) -> str:
    """Path data, one unit per cell, of every run of superior cells along a row."""
    k = len(superior)
    padded = np.zeros((k, k + 2), dtype=np.int8)
    padded[:, 1:-1] = superior
    row, column = np.nonzero(np.diff(padded, axis=1))  # a run's first cell, then one past it
    first, length = column[0::2], column[1::2] - column[0::2]
    return "".join(
        f"M{j} {i}h{n}v1h-{n}z" for i, j, n in zip(row[0::2], first, length, strict=True)
    )


def significance_map(
    algorithms: Sequence[str],
    superior: np.ndarray,
    *,
    title: str = "Significance map",
    caption: str = "rows and columns in rank order",
) -> str:
    """Significance map: a K × K grid, rows and columns in the given order (pass rank order).

    ``superior[i, j]`` True fills cell (row i, column j): algorithm i is significantly superior
    to algorithm j (e.g. :func:`leaderboard.stats.methods.significance` on full data, rows and
    columns reordered). The diagonal is left blank.

    Drawn to stay small and legible with hundreds of algorithms (a rectangle per cell made 23 MB
    at 500): one background rectangle, one path whose parts are the runs of superior cells of
    each row (in cell units), white lines between the cells as a pattern, and cells never
    smaller than a label's height (the plot grows and scrolls instead). The document's
    description says in words what the grid shows. A legend under the grid names both
    colours (and says so when no pair differs), then the ``caption`` (the test used).
    """
    superior = np.asarray(superior, dtype=bool)
    k = len(algorithms)
    if superior.shape != (k, k):
        raise ValueError(f"superior must be {k} × {k}, got {superior.shape}")
    superior = superior & ~np.eye(k, dtype=bool)
    cell = float(np.clip(520 / max(k, 1), 14, 40))
    left = _LEFT + _LABELS
    side = cell * k
    width = max(left + side + _RIGHT, _caption_width(caption), _LEGEND_WIDTH)
    legend_y = _TOP + side + _LABELS
    height = legend_y + 24
    size = svg.number(cell)
    in_cells = f"transform='translate({svg.number(left)} {_TOP}) scale({size})'"
    diagonal = "".join(f"M{i} {i}h1v1h-1z" for i in range(k))
    body = [
        f"<defs><pattern id='significance-cells' patternUnits='userSpaceOnUse' "
        f"x='{svg.number(left)}' y='{_TOP}' width='{size}' height='{size}'>"
        f"<path d='M{svg.number(cell - 0.5)} 0V{size}M0 {svg.number(cell - 0.5)}H{size}' "
        "stroke='#ffffff'/></pattern></defs>",
        svg.text(width / 2, 24, title, size=14),
        svg.rect(left, _TOP, side, side, fill=_NOT_SUPERIOR),
        f"<g {in_cells}><path d='{_superior_runs(superior)}' fill='{_SUPERIOR}'/>"
        f"<path d='{diagonal}' fill='#ffffff'/></g>",
        svg.rect(left, _TOP, side, side, fill="url(#significance-cells)"),
        svg.group("text-anchor='end'", [
            svg.group_label(left - 6, _TOP + cell * (i + 0.5) + 4, name)
            for i, name in enumerate(algorithms)
        ]),
        svg.group("text-anchor='end'", [
            svg.group_label(left + cell * (i + 0.5) + 4, _TOP + side + 12, name, rotate=-60)
            for i, name in enumerate(algorithms)
        ]),
        *_significance_legend(legend_y, k, int(superior.sum())),
        svg.text(_LEFT, height - 10, caption, anchor="start", size=11),
    ]
    description = (
        f"{k} algorithms in the same order along the rows and the columns. A yellow cell at row "
        f"A and column B means that A is significantly superior to B: {int(superior.sum())} of "
        f"the {k * (k - 1)} ordered pairs; a pale blue cell, that it is not. "
        f"{caption[:1].upper()}{caption[1:]}."
    )
    return svg.document(width, height, title, body, description=description)


def _significance_legend(y: float, k: int, superior: int) -> list[str]:
    """Two swatches naming the map's colours, at baseline ``y``; with no superior pair, a
    note saying so (the grid is then all pale, which reads as "nothing drawn")."""
    parts = [svg.rect(_LEFT, y - 10, 12, 12, fill=_SUPERIOR),
             svg.text(_LEFT + 17, y, "row significantly better than column", anchor="start",
                      size=11),
             svg.rect(_LEFT + 245, y - 10, 12, 12, fill=_NOT_SUPERIOR),
             svg.text(_LEFT + 262, y, "not significantly better", anchor="start", size=11)]
    if superior == 0 and k > 1:
        parts.append(svg.text(_LEFT + 410, y, "(no pair differs significantly)",
                              anchor="start", size=11))
    return parts


def ranks_across_tasks(
    tasks: Sequence[str],
    algorithms: Sequence[str],
    ranks: np.ndarray,
    *,
    title: str = "Ranks across tasks",
) -> str:
    """Line plot of every algorithm's rank per task (challengeR's "rank across tasks").

    x: ``tasks`` in the given order; y: rank, 1 at the top; ``ranks[i, t]`` the rank of
    algorithm i in task t (pass the algorithms in final order: the legend, right of the last
    task, lists them so, each in its line's colour).
    """
    ranks = np.asarray(ranks, dtype=float)
    k, n = len(algorithms), len(tasks)
    if ranks.shape != (k, n):
        raise ValueError(f"ranks must be {k} × {n}, got {ranks.shape}")
    worst = max(float(np.nanmax(ranks)) if ranks.size else 1.0, 1.0)
    column = float(np.clip(600 / max(n, 1), 60, 140))
    legend_row = 16
    height = _TOP + max(300.0, legend_row * (k + 1)) + _LABELS
    plot_height = height - _TOP - _LABELS
    legend_x = _LEFT + column * n + 20
    width = max(legend_x + _LABELS + _RIGHT, _caption_width(title))

    def x_of(t: int) -> float:
        return _LEFT + column * (t + 0.5)

    def y_of(rank: float) -> float:
        return _TOP + plot_height * (rank - 1) / max(worst - 1, 1)

    body = [svg.text(width / 2, 24, title, size=14),
            svg.text(18, _TOP + plot_height / 2, "rank", rotate=-90)]
    for tick in svg.nice_ticks(1, worst):
        body += [svg.line(_LEFT, y_of(tick), legend_x - 20, y_of(tick), stroke=svg.GRID),
                 svg.text(_LEFT - 8, y_of(tick) + 4, svg.number(tick), anchor="end")]
    for t, task in enumerate(tasks):
        body.append(svg.label(x_of(t) + 4, _TOP + plot_height + 14, task, rotate=-45))
    for i, name in enumerate(algorithms):
        fill = svg.colour(i)
        points = [(x_of(t), y_of(ranks[i, t])) for t in range(n) if np.isfinite(ranks[i, t])]
        body.append(svg.polyline(points, stroke=fill))
        body += [svg.circle(x, y, 3.5, fill=fill) for x, y in points]
        body.append(svg.rect(legend_x, _TOP + legend_row * i - 9, 10, 10, fill=fill))
        body.append(svg.label(legend_x + 14, _TOP + legend_row * i, name, anchor="start"))
    return svg.document(width, height, title, body)
