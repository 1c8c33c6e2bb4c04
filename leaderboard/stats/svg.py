"""Minimal SVG building blocks for the leaderboard plots: every text is escaped here.

Algorithm, task and metric names come from users; :func:`text` and :func:`document` escape
them (``html.escape`` with quotes), and no other function writes user text, so a name such as
``<script>`` is shown as characters, never interpreted.
"""

import functools
import html
import math
from collections.abc import Iterable

PALETTE = (
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e",
    "#e6ab02", "#a6761d", "#1f78b4", "#b2df8a", "#fb9a99",
)  # fmt: skip
INK = "#222222"
GRID = "#dddddd"
FONT = "font-family='DejaVu Sans, Arial, sans-serif' font-size='12'"


def colour(k: int) -> str:
    """The k-th categorical colour (cycling)."""
    return PALETTE[k % len(PALETTE)]


@functools.lru_cache(maxsize=1 << 16)
def number(x: float) -> str:
    """A coordinate or value written compactly (at most 3 decimals). Cached: a plot repeats
    the same few coordinates (a column's x, a rank's y) tens of thousands of times."""
    return f"{x:.3f}".rstrip("0").rstrip(".") if math.isfinite(x) else "0"


def text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "middle",
    rotate: float = 0,
    size: int = 12,
    weight: str = "normal",
    hint: str | None = None,
) -> str:
    """A text element; ``content`` and the tooltip ``hint`` are escaped."""
    turn = f" transform='rotate({number(rotate)} {number(x)} {number(y)})'" if rotate else ""
    tooltip = f"<title>{html.escape(hint, quote=True)}</title>" if hint else ""
    return (
        f"<text x='{number(x)}' y='{number(y)}' text-anchor='{anchor}' font-size='{size}' "
        f"font-weight='{weight}' fill='{INK}'{turn}>{tooltip}"
        f"{html.escape(content, quote=True)}</text>"
    )


def label(x: float, y: float, name: str, *, anchor: str = "end", rotate: float = 0) -> str:
    """A user-supplied name, shortened for the axis, with the full name as tooltip."""
    return text(x, y, short(name), anchor=anchor, rotate=rotate, hint=name)


def group_label(x: float, y: float, content: str, *, rotate: float = 0) -> str:
    """A user-supplied name, shortened, in the font and anchor of the enclosing :func:`group`;
    the full name as tooltip only where it was cut. For plots that name hundreds of
    algorithms, where each label's own attributes would add up."""
    turn = f" transform='rotate({number(rotate)} {number(x)} {number(y)})'" if rotate else ""
    shown = short(content)
    tooltip = "" if shown == content else f"<title>{html.escape(content, quote=True)}</title>"
    return (
        f"<text x='{number(x)}' y='{number(y)}'{turn}>{tooltip}"
        f"{html.escape(shown, quote=True)}</text>"
    )


def group(attributes: str, children: Iterable[str]) -> str:
    """A ``<g>`` giving ``attributes`` (fixed text from the code, never user text) to its
    children; text inside is in the ink colour."""
    return f"<g fill='{INK}' {attributes}>{''.join(children)}</g>"


def line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    *,
    stroke: str = INK,
    width: float = 1,
    opacity: float = 1,
) -> str:
    """A line segment."""
    return (
        f"<line x1='{number(x1)}' y1='{number(y1)}' x2='{number(x2)}' y2='{number(y2)}' "
        f"stroke='{stroke}' stroke-width='{number(width)}' stroke-opacity='{number(opacity)}'/>"
    )


def rect(
    x: float,
    y: float,
    width: float,
    height: float,
    *,
    fill: str,
    stroke: str = "none",
    opacity: float = 1,
) -> str:
    """A rectangle."""
    return (
        f"<rect x='{number(x)}' y='{number(y)}' width='{number(max(width, 0))}' "
        f"height='{number(max(height, 0))}' fill='{fill}' stroke='{stroke}' "
        f"fill-opacity='{number(opacity)}'/>"
    )


def circle(x: float, y: float, radius: float, *, fill: str, opacity: float = 1) -> str:
    """A filled circle."""
    return (
        f"<circle cx='{number(x)}' cy='{number(y)}' r='{number(radius)}' fill='{fill}' "
        f"fill-opacity='{number(opacity)}'/>"
    )


def circle_column(
    x: float, ys: Iterable[float], radii: Iterable[float], *, fill: str, opacity: float = 1
) -> str:
    """Filled circles centred on one vertical line at ``x``, as a group that gives them their
    x, colour and opacity once: a blob plot of hundreds of algorithms draws tens of thousands."""
    circles = "".join(
        f"<circle cy='{number(y)}' r='{number(r)}'/>" for y, r in zip(ys, radii, strict=True)
    )
    return (
        f"<g transform='translate({number(x)} 0)' fill='{fill}' "
        f"fill-opacity='{number(opacity)}'>{circles}</g>"
    )


def polyline(points: Iterable[tuple[float, float]], *, stroke: str, opacity: float = 1) -> str:
    """An open line through ``points``."""
    coordinates = " ".join(f"{number(x)},{number(y)}" for x, y in points)
    return (
        f"<polyline points='{coordinates}' fill='none' stroke='{stroke}' "
        f"stroke-width='1' stroke-opacity='{number(opacity)}'/>"
    )


def document(
    width: float, height: float, title: str, body: Iterable[str], *, description: str = ""
) -> str:
    """A standalone SVG document with an escaped ``<title>`` (and ``<desc>``, the plot in
    words, when given: both are what a screen reader announces) and a white background."""
    desc = f"<desc>{html.escape(description, quote=True)}</desc>" if description else ""
    return "\n".join(
        [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{number(width)}' "
            f"height='{number(height)}' viewBox='0 0 {number(width)} {number(height)}' "
            f"role='img' {FONT}>",
            f"<title>{html.escape(title, quote=True)}</title>{desc}",
            rect(0, 0, width, height, fill="#ffffff"),
            *body,
            "</svg>",
        ]
    )


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [low, high] (steps of 1, 2 or 5 × 10^k)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else [0.0]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def short(name: str, limit: int = 24) -> str:
    """A name cut to ``limit`` characters for an axis label (the full name is in a tooltip)."""
    return name if len(name) <= limit else name[: limit - 1] + "…"
