"""Mean and median per algorithm over weighted cases, for many resamples at once.

A resample is a row of case multiplicities (``counts[b, j]`` copies of case j); the mean and
median of a resample equal numpy's ``mean``/``median`` of the values repeated that many times.
Cases an algorithm lacks (``present`` False) are left out of its aggregate; an algorithm with no
case left gets NaN. Values may be ±inf (a missing value under the "worst" rule).
"""

import numpy as np


def weighted_mean(values: np.ndarray, present: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean of each algorithm's values over each resample: (K, n), (K, n), (B, n) → (B, K).

    Infinite values are kept out of the matrix product (0 · inf would be NaN): an algorithm
    with an infinite value among the drawn cases gets that infinity as its mean.
    """
    infinite = np.isinf(values) & present
    finite_values = np.where(present & ~infinite, values, 0.0)
    drawn = counts @ present.T.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = (counts @ finite_values.T) / drawn
    if infinite.any():
        for sign in (-1.0, 1.0):
            hit = counts @ (infinite & (np.sign(values) == sign)).T.astype(np.float64) > 0
            means = np.where(hit, sign * np.inf, means)
    return np.where(drawn > 0, means, np.nan)


_BLOCK = 32


def _order_statistic(
    blocks: np.ndarray, totals: np.ndarray, position: np.ndarray, sorted_values: np.ndarray
) -> np.ndarray:
    """The value at 0-based ``position`` (B,) of each resample's sorted copies, given the
    multiplicities in sorted order as (blocks, 32, B) and their running block totals."""
    block = np.minimum((totals <= position).sum(axis=0), len(totals) - 1)
    before = np.where(block > 0, totals[np.maximum(block - 1, 0), np.arange(len(block))], 0)
    inside = np.cumsum(blocks[block, :, np.arange(len(block))], axis=1) + before[:, None]
    offset = np.minimum((inside <= position[:, None]).sum(axis=1), _BLOCK - 1)
    return sorted_values[np.minimum(block * _BLOCK + offset, len(sorted_values) - 1)]


def weighted_median(values: np.ndarray, present: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median of each algorithm's values over each resample: (K, n), (K, n), (B, n) → (B, K).

    With N drawn copies sorted, the median is the mean of the copies at 0-based positions
    ⌊(N−1)/2⌋ and ⌊N/2⌋, as ``numpy.median``. Found without sorting per resample: the
    multiplicities, in the algorithm's value order, are summed in blocks of 32 to find the
    block holding each position, then accumulated inside that block only.
    """
    n_boot = counts.shape[0]
    exact32 = counts.sum(axis=1).max(initial=0) < 2**24
    weights = np.ascontiguousarray(counts.T, dtype=np.float32 if exact32 else np.float64)
    medians = np.full((n_boot, values.shape[0]), np.nan)
    for k, (row, mask) in enumerate(zip(values, present, strict=True)):
        order = np.flatnonzero(mask)[np.argsort(row[mask], kind="stable")]
        if len(order) == 0:
            continue
        n_blocks = -(-len(order) // _BLOCK)
        blocks = np.zeros((n_blocks * _BLOCK, n_boot), dtype=weights.dtype)
        np.take(weights, order, axis=0, out=blocks[: len(order)])
        blocks = blocks.reshape(n_blocks, _BLOCK, n_boot)
        totals = np.cumsum(blocks.sum(axis=1), axis=0)
        drawn = totals[-1]
        sorted_values = row[order]
        low = _order_statistic(blocks, totals, np.floor((drawn - 1) / 2), sorted_values)
        high = _order_statistic(blocks, totals, np.floor(drawn / 2), sorted_values)
        medians[:, k] = np.where(drawn > 0, (low + high) / 2, np.nan)
    return medians
