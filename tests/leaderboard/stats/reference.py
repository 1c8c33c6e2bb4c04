"""Slow, obvious re-implementations of challengeR 1.0.5's ranking for the tests to compare with.

They work on rows (case id, algorithm, value) as challengeR's data frames do, so a case id may
repeat (the copies of a bootstrap resample): rank-then-aggregate ranks all rows sharing a case
id together, and test-then-rank pairs algorithms on the distinct case ids they share, taking
the first row of each — exactly what challengeR does with a resample's duplicated case ids. A
test that wants standard bootstrap semantics gives every copy its own case id.
"""

import math
import statistics
import warnings

import numpy as np
from scipy.stats import wilcoxon

Row = tuple[str, str, float]  # case id, algorithm, value (NaN = missing)


def rank_na2(
    values: list[float], *, larger_better: bool, ties: str, rel_tol: float = 0.0
) -> list[float]:
    """challengeR's rankNA2, written with loops: rank 1 is best, missing ranked last. With
    ``rel_tol``, values closer than rel_tol × the largest finite |value| are equal (Podium
    ties computed aggregates that way)."""
    present = [v for v in values if not math.isnan(v)]
    scale = max((abs(v) for v in present if math.isfinite(v)), default=0.0)
    ranks = []
    for v in values:
        if math.isnan(v):
            ranks.append(math.nan)
            continue

        def close(w, v=v):
            both_finite = math.isfinite(w) and math.isfinite(v)
            return w == v or (both_finite and abs(w - v) <= rel_tol * scale)

        equal = sum(1 for w in present if close(w))
        better = sum(1 for w in present if (w > v if larger_better else w < v) and not close(w))
        ranks.append(better + 1.0 if ties == "min" else better + (equal + 1) / 2)
    n_missing = len(values) - len(present)
    top = max((r for r in ranks if not math.isnan(r)), default=0.0)
    fill = top + 1 if ties == "min" else top + (n_missing + 1) / 2
    return [fill if math.isnan(r) else r for r in ranks]


def _filled(rows: list[Row], na, larger_better: bool) -> list[Row]:
    if na == "drop":
        return [row for row in rows if not math.isnan(row[2])]
    worst = -math.inf if larger_better else math.inf
    fill = worst if na == "worst" else na
    return [(c, a, fill if math.isnan(v) else v) for c, a, v in rows]


def _final(scores: dict[str, float], algorithms: list[str], *, larger_better: bool, ties: str):
    values = [scores.get(a, math.nan) for a in algorithms]
    return values, rank_na2(values, larger_better=larger_better, ties=ties, rel_tol=1e-12)


def aggregate_then_rank(rows: list[Row], *, median: bool, na, larger_better: bool, ties: str):
    """Mean or median per algorithm of its (filled) values, ranked."""
    algorithms = sorted({a for _, a, _ in rows})
    kept = _filled(rows, na, larger_better)
    scores = {}
    for a in algorithms:
        values = [v for _, b, v in kept if b == a]
        if values:
            scores[a] = statistics.median(values) if median else math.fsum(values) / len(values)
    return _final(scores, algorithms, larger_better=larger_better, ties=ties)


def rank_then_aggregate(rows: list[Row], *, na, larger_better: bool, ties: str):
    """Per case id, rank all its rows jointly (rankNA2); mean rank per algorithm, ranked."""
    algorithms = sorted({a for _, a, _ in rows})
    if na not in ("worst", "drop"):
        rows = _filled(rows, na, larger_better)
    if na == "drop":
        rows = [row for row in rows if not math.isnan(row[2])]
    ranked: dict[str, list[float]] = {a: [] for a in algorithms}
    for case in sorted({c for c, _, _ in rows}):
        group = [row for row in rows if row[0] == case]
        ranks = rank_na2([v for _, _, v in group], larger_better=larger_better, ties=ties)
        for (_, a, _), r in zip(group, ranks, strict=True):
            ranked[a].append(r)
    scores = {a: sum(r) / len(r) for a, r in ranked.items() if r}
    return _final(scores, algorithms, larger_better=False, ties=ties)


def wilcoxon_greater(x: list[float], y: list[float]) -> float:
    """scipy's one-sided signed-rank p-value (normal approximation, continuity and tie
    correction, zeros dropped); 1 when no difference is left (R's value)."""
    with np.errstate(invalid="ignore"):
        d = np.asarray(x) - np.asarray(y)
    d = d[~np.isnan(d) & (d != 0)]
    if len(d) == 0:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(
            wilcoxon(
                d, zero_method="wilcox", correction=True, method="asymptotic", alternative="greater"
            ).pvalue
        )


def adjust(pvalues: list[float], method: str) -> list[float]:
    """R's p.adjust for "none", "bonferroni" and "holm", written with loops."""
    m = len(pvalues)
    if method == "none":
        return list(pvalues)
    if method == "bonferroni":
        return [min(1.0, p * m) for p in pvalues]
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * m, 0.0
    for position, i in enumerate(order):
        running = max(running, min(1.0, (m - position) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def test_then_rank(
    rows: list[Row], *, na, larger_better: bool, ties: str, adjust_method="none", alpha=0.05
):
    """Share of the other algorithms beaten (adjusted p ≤ alpha), on shared distinct case ids."""
    algorithms = sorted({a for _, a, _ in rows})
    kept = _filled(rows, na, larger_better)
    first: dict[str, dict[str, float]] = {a: {} for a in algorithms}
    for c, a, v in kept:
        first[a].setdefault(c, v)
    pairs = [(i, j) for i in algorithms for j in algorithms if i != j]
    pvalues = []
    for i, j in pairs:
        shared = sorted(set(first[i]) & set(first[j]))
        x = [first[i][c] for c in shared]
        y = [first[j][c] for c in shared]
        pvalues.append(wilcoxon_greater(x, y) if larger_better else wilcoxon_greater(y, x))
    wins = dict.fromkeys(algorithms, 0)
    for (i, _), p in zip(pairs, adjust(pvalues, adjust_method), strict=True):
        wins[i] += p <= alpha
    k = len(algorithms)
    scores = {a: wins[a] / (k - 1) if k > 1 else 0.0 for a in algorithms if first[a]}
    return _final(scores, algorithms, larger_better=True, ties=ties)
