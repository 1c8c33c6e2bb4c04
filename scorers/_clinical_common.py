"""Input checks and weighted pair counting shared by :mod:`scorers.clinical` and
:mod:`scorers.survival`.

Every public metric there validates its arrays once, here, and then works on (B, n) case
multiplicities: ``weights=None`` is one resample that draws every case once, a 1-D array (n,)
one resample, a 2-D array (B, n) B resamples (:func:`multiplicities`). A case counted w times
is the case repeated w times, so every sum over cases is a weighted sum and every sum over
pairs of cases a sum of products of weights.
"""

from __future__ import annotations

import numpy as np

from scorers.errors import InputError


def _array(values, *, name: str, ndim: int) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected numbers") from None
    if array.ndim != ndim:
        raise InputError(f"{name}: expected a {ndim}-D array, got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array.reshape(-1)))
    if len(bad):
        where = np.unravel_index(bad[0], array.shape)
        raise InputError(f"{name}: value at index {_index(where)} is not a finite number")
    return array


def _index(where: tuple) -> str:
    return str(int(where[0])) if len(where) == 1 else str(tuple(int(i) for i in where))


def scores(values, *, name: str, n: int | None = None, ndim: int = 1) -> np.ndarray:
    """Finite float64 scores of ``ndim`` dimensions (n cases first, n checked if given)."""
    array = _array(values, name=name, ndim=ndim)
    if n is not None and array.shape[0] != n:
        raise InputError(f"{name}: expected {n} cases, got {array.shape[0]}")
    if array.shape[0] == 0:
        raise InputError(f"{name}: no case")
    return array


def probabilities(values, *, name: str, n: int | None = None, ndim: int = 1) -> np.ndarray:
    """Finite probabilities in [0, 1]."""
    array = scores(values, name=name, n=n, ndim=ndim)
    bad = np.flatnonzero(((array < 0) | (array > 1)).reshape(-1))
    if len(bad):
        where = np.unravel_index(bad[0], array.shape)
        raise InputError(f"{name}: value at index {_index(where)} is not a probability in [0, 1]")
    return array


def integers(values, *, name: str, n: int, high: int, what: str) -> np.ndarray:
    """Integer codes 0 … high − 1 (given as ints, bools or integral floats), one per case."""
    array = scores(values, name=name, n=n)
    bad = np.flatnonzero((array != np.round(array)) | (array < 0) | (array >= high))
    if len(bad):
        raise InputError(f"{name}: value at index {bad[0]} is not {what}")
    return array.astype(np.int64)


def binary_labels(values, *, n: int, name: str = "label") -> np.ndarray:
    """0/1 labels as bools (1 = positive class)."""
    return integers(values, name=name, n=n, high=2, what="0 or 1").astype(bool)


def survival_truth(time, event, *, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Observed times (finite, ≥ 0) and event indicators (1 event, 0 censored) of n cases."""
    time = scores(time, name="time", n=n)
    negative = np.flatnonzero(time < 0)
    if len(negative):
        raise InputError(f"time: value at index {negative[0]} is negative")
    return time, integers(event, name="event", n=n, high=2, what="0 or 1").astype(bool)


def multiplicities(weights, n: int) -> tuple[np.ndarray, bool]:
    """``(W, batched)``: W (B, n) float64 case multiplicities; ``batched`` False when the
    caller passed None or one (n,) vector, whose result is then a float, not a (B,) array."""
    if weights is None:
        return np.ones((1, n)), False
    array = np.asarray(weights, dtype=np.float64)
    if array.ndim not in (1, 2) or array.shape[-1] != n:
        raise InputError(f"weights: expected shape ({n},) or (B, {n}), got {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any():
        raise InputError("weights: expected finite non-negative multiplicities")
    return (array[None], False) if array.ndim == 1 else (array, True)


def result(values: np.ndarray, batched: bool):
    """A (B,) array when batched, else its one value as a float."""
    return values if batched else float(values[0])


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (the value is undefined)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1),
                        np.nan)


def tie_groups(values: np.ndarray, tol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(order, starts)``: the ascending order of ``values`` and the positions in it where a
    group of tied values starts; neighbours in sorted order at most ``tol`` apart are tied
    (chained, as scikit-survival's ``tied_tol``)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, np.diff(ordered) > tol])
    return order, starts


def pair_concordance(scores_: np.ndarray, high: np.ndarray, low: np.ndarray, *,
                     tol: float = 0.0, groups=None) -> tuple[np.ndarray, np.ndarray]:
    """``(concordant, pairs)`` per resample: Σ_i Σ_j high_i·low_j·(1[s_i > s_j] + ½·1[s_i ≈ s_j])
    and Σ_i high_i · Σ_j low_j, for weights ``high`` and ``low`` (B, n) — the Mann–Whitney
    count behind every AUC. O(B·n) after one sort (``groups`` from :func:`tie_groups`)."""
    order, starts = groups if groups is not None else tie_groups(scores_, tol)
    return _sorted_concordance(high[:, order], low[:, order], starts)


def class_concordance(scores_: np.ndarray, w: np.ndarray, member: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pair_concordance` of the members of a class (bool ``member``, weights ``w``)
    against the other cases, exact ties: one sorted copy of ``w`` serves both sides."""
    order, starts = tie_groups(scores_)
    ordered = w[:, order]
    high = ordered * member[order]
    return _sorted_concordance(high, ordered - high, starts)


def _sorted_concordance(high: np.ndarray, low: np.ndarray, starts: np.ndarray):
    """The Mann–Whitney count of weights already in ascending score order, tie groups opening
    at ``starts``: with L the running sum of ``low`` at the end of each group, a group's ``high``
    weight meets ``low`` below it (L before the group) and ½ of the ``low`` in it, i.e.
    ½ (L before + L at its end)."""
    ends = np.r_[starts[1:], high.shape[1]] - 1
    low_to = np.cumsum(low, axis=1)[:, ends]
    high_to = np.cumsum(high, axis=1)[:, ends]
    high_g = np.diff(high_to, axis=1, prepend=0.0)
    low_before = np.concatenate([np.zeros((len(low_to), 1)), low_to[:, :-1]], axis=1)
    concordant = 0.5 * (high_g * (low_before + low_to)).sum(axis=1)
    return concordant, high_to[:, -1] * low_to[:, -1]
