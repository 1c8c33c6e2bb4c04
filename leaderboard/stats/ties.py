"""Ranking a vector of scores with ties and missing values, as challengeR's ``rankNA2``.

Competition ranking ("min": 1, 2, 2, 4) or average ranks (1, 2.5, 2.5, 4), rank 1 for the best
score. Missing scores (NaN) rank after all others and tie with one another, exactly as
challengeR 1.0.5's ``rankNA2``: with ``"min"`` they receive (largest rank given to a present
score) + 1, with ``"average"`` that largest rank + (m + 1) / 2 for m missing scores; when every
score is missing, ranks are 1 (``"min"``) or (m + 1) / 2 (``"average"``).
"""

from typing import Literal

import numpy as np

from leaderboard.stats.errors import StatsInputError

Ties = Literal["min", "average"]

AGGREGATE_TOLERANCE = 1e-12
"""Two computed aggregates a and b with |a − b| ≤ this × max(|a|, |b|, 1) are tied. Sums of the
same numbers in another order differ in the last bits; without a tolerance, reordering cases
could break a tie (and a mean that should be 0 can come out as 1e-17). The tolerance is
relative to the pair, so one huge score (a fill value) never ties two distinct small ones."""


def check_ties(ties: str) -> Ties:
    """Return ``ties`` if it is ``"min"`` or ``"average"``, else raise StatsInputError."""
    if ties not in ("min", "average"):
        raise StatsInputError(f"ties {ties!r}: expected 'min' or 'average'")
    return ties


def _same_as_previous(keys: np.ndarray, rel_tol: float) -> np.ndarray:
    previous, current = keys[..., :-1], keys[..., 1:]
    same = previous == current
    same |= np.isnan(previous) & np.isnan(current)
    if rel_tol > 0:
        finite = np.isfinite(keys)
        with np.errstate(invalid="ignore"):
            scale = np.maximum(np.maximum(np.abs(previous), np.abs(current)), 1.0)
            close = np.abs(current - previous) <= rel_tol * scale
        same |= finite[..., :-1] & finite[..., 1:] & close
    return same


def _ranks_of_sorted(keys: np.ndarray, ties: Ties, rel_tol: float) -> np.ndarray:
    rows, k = keys.shape
    position = np.broadcast_to(np.arange(k), keys.shape)
    start = np.ones(keys.shape, dtype=bool)
    start[:, 1:] = ~_same_as_previous(keys, rel_tol)
    first = np.maximum.accumulate(np.where(start, position, 0), axis=1)
    end = np.ones(keys.shape, dtype=bool)
    end[:, :-1] = start[:, 1:]
    last = np.minimum.accumulate(np.where(end, position, k - 1)[:, ::-1], axis=1)[:, ::-1]
    ranks = first + 1.0 if ties == "min" else (first + last) / 2.0 + 1.0
    missing = np.isnan(keys)
    if missing.any():
        present = k - missing.sum(axis=1)
        top = np.where(present > 0, ranks[np.arange(rows), np.maximum(present - 1, 0)], 0.0)
        m = (k - present).astype(float)
        fill = top + 1.0 if ties == "min" else top + (m + 1.0) / 2.0
        ranks = np.where(missing, fill[:, None], ranks)
    return ranks


def rank_scores(
    scores: np.ndarray,
    *,
    larger_better: bool,
    ties: Ties = "min",
    rel_tol: float = AGGREGATE_TOLERANCE,
) -> np.ndarray:
    """Rank along the last axis: 1 = best, ties by ``ties``, NaN last (challengeR's rankNA2).

    Neighbours in sorted order within ``rel_tol`` × max(|a|, |b|, 1) of each other are tied;
    pass ``rel_tol=0`` to rank raw metric values exactly, as challengeR does per case. ±inf are
    ordinary (extreme) scores and tie with an equal infinity. Returns floats of the same shape.
    """
    check_ties(ties)
    scores = np.asarray(scores, dtype=np.float64)
    flat = scores.reshape(-1, scores.shape[-1]) if scores.ndim else scores.reshape(1, 1)
    keys = -flat if larger_better else flat
    order = np.argsort(keys, axis=1, kind="stable")
    sorted_ranks = _ranks_of_sorted(np.take_along_axis(keys, order, axis=1), ties, rel_tol)
    ranks = np.empty_like(sorted_ranks)
    np.put_along_axis(ranks, order, sorted_ranks, axis=1)
    return ranks.reshape(scores.shape)


def rank_order(ranks: np.ndarray, names: tuple[str, ...] | list[str]) -> list[int]:
    """Indices of ``names`` from best to worst rank, ties in name order (for display)."""
    return sorted(range(len(names)), key=lambda k: (float(ranks[k]), names[k]))
