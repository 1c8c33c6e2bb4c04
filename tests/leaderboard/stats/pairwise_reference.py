"""The implementations that the fast paths replaced, kept verbatim as test-only references.

``signed_rank_pvalues`` is the Wilcoxon signed-rank engine verified against challengeR (R's
``wilcox.test(paired=TRUE, exact=FALSE, correct=TRUE)``: ties, zero differences, resamples as
case multiplicities) as it was before the full data got a road of its own: Walsh's form for
every input, batch by batch of pairs. ``kendall_tau_b`` is Kendall's tau-b summed over every
pair of algorithms as one matrix product. The production code
(:mod:`leaderboard.stats.wilcoxon`, :func:`leaderboard.stats.bootstrap.kendall_tau_b`) must give
the same numbers: tests/leaderboard/stats/test_fast_paths.py compares them on random data, and
``benchmarks/stats.py`` times both.
"""

import numpy as np
from scipy import sparse
from scipy.special import ndtr

_PAIR_CHUNK = 512  # pairs per group of matrix products, bounding the (B, pairs) arrays
_BATCH_CELLS = 65536  # pairs × resamples per batch (at most 64 pairs): fewer, larger array ops
_FLOAT32_EXACT_DRAWS = 5000  # N(N+1)/2 < 2**24: every count is an exact float32 integer
_PREFIX_BLOCK = 16


def _prefix_rows(rows: np.ndarray) -> np.ndarray:
    """Inclusive running sums down the rows of ``rows`` (m, B), in place, after a zero row:
    row 0 must be zeros. Blocked, because numpy's cumsum along axis 0 is several times slower
    than adding whole rows."""
    inner = rows[1:]
    n_blocks = len(inner) // _PREFIX_BLOCK
    blocks = inner[: n_blocks * _PREFIX_BLOCK].reshape(n_blocks, _PREFIX_BLOCK, rows.shape[1])
    for row in range(1, _PREFIX_BLOCK):
        blocks[:, row] += blocks[:, row - 1]
    if n_blocks > 1:
        totals = blocks[:, -1].copy()
        blocks[1:] += np.cumsum(totals, axis=0)[:-1, None, :]
    for row in range(n_blocks * _PREFIX_BLOCK, len(inner)):
        inner[row] += inner[row - 1] if row else 0
    return rows


def _segment_sums(
    weights: np.ndarray, cases: np.ndarray, starts: np.ndarray, *, leading_zero: bool = False
) -> np.ndarray:
    """Σ of ``weights`` rows over each segment ``cases[starts[s]:starts[s+1]]`` → (S, B),
    after an extra zero row when ``leading_zero``."""
    indptr = np.append(starts, len(cases))
    if leading_zero:
        indptr = np.append(indptr[0], indptr)
    ones = np.ones(len(cases), dtype=weights.dtype)
    shape = (len(indptr) - 1, weights.shape[0])
    return sparse.csr_array((ones, cases, indptr), shape=shape) @ weights


def _sum_by_pair(rows: np.ndarray, pair: np.ndarray, n_pairs: int) -> np.ndarray:
    """Σ of the rows belonging to each pair → (B, n_pairs)."""
    indicator = sparse.csr_array(
        (np.ones(len(pair), dtype=rows.dtype), (pair, np.arange(len(pair)))),
        shape=(n_pairs, len(pair)),
    )
    return np.asarray(indicator @ rows, dtype=np.float64).T


class _SortedPairs:
    """The nonzero differences of a batch of pairs, each pair sorted by |d| with negatives first
    among equals, flattened pair after pair into one sequence of cases."""

    def __init__(self, differences: np.ndarray, valid: np.ndarray, positive: np.ndarray):
        magnitude = np.where(valid, np.abs(differences), np.nan)
        order = np.lexsort((positive, magnitude), axis=-1)
        kept = np.take_along_axis(valid, order, axis=-1)
        self.cases = order[kept]
        self.pair = np.nonzero(kept)[0]
        self.signs = np.take_along_axis(positive, order, axis=-1)[kept]
        self.magnitude = np.take_along_axis(magnitude, order, axis=-1)[kept]
        self.first = np.ones(len(self.cases), dtype=bool)
        self.first[1:] = self.pair[1:] != self.pair[:-1]

    def starts(self, boundary: np.ndarray) -> np.ndarray:
        """Positions opening a segment: a pair's first case or where ``boundary`` (between a
        position and the one before it) is True."""
        opens = self.first.copy()
        opens[1:] |= boundary
        return np.flatnonzero(opens)


def _cross_pairs(
    weights: np.ndarray, sorted_pairs: "_SortedPairs", positive_copies: np.ndarray
) -> np.ndarray:
    """X per pair and resample (B, P): each positive run times the negative copies before it.

    With R the running sum over all negative runs of the batch (pair after pair), a positive
    run of pair p is preceded by R(at the run) − R(at p's first run) negative copies of p; the
    second part, summed over p's positive runs, is R(at p's first run) × U_p."""
    n_pairs = positive_copies.shape[1]
    runs = sorted_pairs.starts(sorted_pairs.signs[1:] != sorted_pairs.signs[:-1])
    positive = sorted_pairs.signs[runs]
    negative_cases = ~sorted_pairs.signs
    cases, run_pair = sorted_pairs.cases, sorted_pairs.pair[runs]
    negative_starts = np.searchsorted(np.flatnonzero(negative_cases), runs[~positive])
    running = _prefix_rows(
        _segment_sums(weights, cases[negative_cases], negative_starts, leading_zero=True)
    )
    negative_runs = np.flatnonzero(~positive)
    positive_runs = np.flatnonzero(positive)
    positive_starts = np.searchsorted(np.flatnonzero(~negative_cases), runs[positive])
    positive_sums = _segment_sums(weights, cases[~negative_cases], positive_starts)
    before_run = running[np.searchsorted(negative_runs, positive_runs)]
    pair_first_run = np.searchsorted(run_pair, np.arange(n_pairs))
    before_pair = running[np.searchsorted(negative_runs, pair_first_run)].T
    bounds = np.searchsorted(run_pair[positive_runs], np.arange(n_pairs + 1))
    cross = np.empty((weights.shape[1], n_pairs))
    for p in range(n_pairs):
        rows = slice(bounds[p], bounds[p + 1])
        # float64 sums: running sums span the whole batch, their products exceed 2**24
        cross[:, p] = np.einsum(
            "qb,qb->b", positive_sums[rows], before_run[rows], dtype=np.float64, casting="safe"
        )
    return cross - before_pair * positive_copies


def _tie_terms(weights: np.ndarray, sorted_pairs: _SortedPairs, n_pairs: int):
    """Per pair and resample: −½ Σ_g N_g P_g and Σ_g (t_g³ − t_g) over tie groups of two or
    more cases, and a mask of the cases in such groups (P, n)."""
    magnitude = sorted_pairs.magnitude
    groups = sorted_pairs.starts(magnitude[1:] != magnitude[:-1])
    size = np.diff(np.append(groups, len(magnitude)))
    tied = size > 1
    members = np.repeat(tied, size)
    in_tie = np.zeros((n_pairs, weights.shape[0]), dtype=bool)
    in_tie[sorted_pairs.pair[members], sorted_pairs.cases[members]] = True
    if not tied.any():
        zero = np.zeros((weights.shape[1], n_pairs))
        return zero, zero.copy(), in_tie
    negatives = np.add.reduceat((~sorted_pairs.signs).astype(np.int64), groups)[tied]
    group_start = groups[tied]
    segments = np.column_stack((group_start, group_start + negatives)).reshape(-1)
    member_positions = np.flatnonzero(members)
    segments = np.searchsorted(member_positions, segments)
    sums = _segment_sums(weights, sorted_pairs.cases[members], segments).astype(np.float64)
    negative, positive = sums[0::2], sums[1::2]
    total = negative + positive
    pair = sorted_pairs.pair[group_start]
    correction = _sum_by_pair(-0.5 * negative * positive, pair, n_pairs)
    extra = _sum_by_pair(total * total * total - total, pair, n_pairs)
    return correction, extra, in_tie


def _pvalues(
    t_plus: np.ndarray, n: np.ndarray, tie_sum: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    mean = n * (n + 1) / 4
    variance = n * (n + 1) * (2 * n + 1) / 24 - tie_sum / 48
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(np.maximum(variance, 0))
        z_greater = (t_plus - mean - 0.5) / sigma
        z_less = (mean - t_plus - 0.5) / sigma
    empty = n == 0
    return np.where(empty, 1.0, ndtr(-z_greater)), np.where(empty, 1.0, ndtr(-z_less))


def _batch_terms(differences: np.ndarray, weights: np.ndarray, positive_copies: np.ndarray):
    """For a few pairs: the T⁺ terms X − ½ Σ N_g P_g (B, P), the tie groups' Σ (t³ − t)
    (B, P) and the mask of cases in tie groups (P, n). No BLAS call here: OpenBLAS threads
    spinning between many small products slow everything else down."""
    with np.errstate(invalid="ignore"):
        valid = ~np.isnan(differences) & (differences != 0)
        positive = valid & (differences > 0)
    n_pairs = len(differences)
    sorted_pairs = _SortedPairs(differences, valid, positive)
    correction, tie_groups, in_tie = _tie_terms(weights, sorted_pairs, n_pairs)
    if len(sorted_pairs.cases):
        correction += _cross_pairs(weights, sorted_pairs, positive_copies)
    return correction, tie_groups, in_tie


def _pair_pvalues(
    values: np.ndarray, counts: np.ndarray, weights: np.ndarray, i: np.ndarray, j: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(greater, less) p-values (B, P) of the pairs (i, j)."""
    with np.errstate(invalid="ignore"):
        differences = values[i] - values[j]
        valid = ~np.isnan(differences) & (differences != 0)
    # in float32 when exact (integer sums below 2**24): twice as fast
    narrow = counts.astype(weights.dtype)
    n = (narrow @ valid.T.astype(weights.dtype)).astype(np.float64)
    positive = (valid & (differences > 0)).T.astype(weights.dtype)
    positive_copies = (narrow @ positive).astype(np.float64)
    t_plus = positive_copies * (positive_copies + 1) / 2
    tie_sum = np.zeros_like(t_plus)
    in_tie = np.zeros(valid.shape, dtype=bool)
    batch = max(1, min(64, _BATCH_CELLS // counts.shape[0]))
    for start in range(0, len(differences), batch):
        part = slice(start, start + batch)
        terms, ties, in_tie[part] = _batch_terms(
            differences[part], weights, positive_copies[:, part]
        )
        t_plus[:, part] += terms
        tie_sum[:, part] = ties
    tie_sum += (counts**3 - counts) @ (valid & ~in_tie).T.astype(np.float64)
    return _pvalues(t_plus, n, tie_sum)


def signed_rank_pvalues(values: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """One-sided paired Wilcoxon p-values for all ordered pairs of rows of ``values``.

    ``values``: (K, n) per-algorithm values on n cases, oriented so that larger is better
    (negate a smaller-is-better metric); NaN marks a case to leave out of every pair it is in;
    ±inf are allowed. ``counts``: (B, n) non-negative integer multiplicities of the cases in B
    resamples (default: one resample with every case once). Returns ``p`` of shape (B, K, K)
    with ``p[b, i, j]`` the p-value of "algorithm i greater than algorithm j" on resample b
    (the formula in the module docstring); the diagonal is NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    k, n_cases = values.shape
    counts = np.ones((1, n_cases)) if counts is None else np.asarray(counts, dtype=np.float64)
    exact32 = counts.sum(axis=1).max(initial=0) <= _FLOAT32_EXACT_DRAWS
    weights = np.ascontiguousarray(counts.T, dtype=np.float32 if exact32 else np.float64)
    first, second = np.triu_indices(k, 1)
    pvalues = np.full((counts.shape[0], k, k), np.nan)
    for start in range(0, len(first), _PAIR_CHUNK):
        i, j = first[start : start + _PAIR_CHUNK], second[start : start + _PAIR_CHUNK]
        pvalues[:, i, j], pvalues[:, j, i] = _pair_pvalues(values, counts, weights, i, j)
    return pvalues


def kendall_tau_b(reference: np.ndarray, rankings: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between ``reference`` (K,) and each row of ``rankings`` (B, K) → (B,).

    tau_b = Σ_{i<j} sgn(x_i − x_j)·sgn(y_i − y_j) / √(n_x · n_y), n_x and n_y the numbers of
    pairs not tied in x and in y (as R's ``cor(method="kendall")`` and scipy's ``kendalltau``);
    NaN when either ranking ties every pair.
    """
    reference = np.asarray(reference, dtype=np.float64)
    rankings = np.atleast_2d(np.asarray(rankings, dtype=np.float64))
    first, second = np.triu_indices(len(reference), 1)
    reference_signs = np.sign(reference[first] - reference[second])
    reference_untied = float(np.count_nonzero(reference_signs))
    taus = np.empty(len(rankings))
    for start in range(0, len(rankings), 256):
        chunk = rankings[start : start + 256]
        differences = chunk[:, first] - chunk[:, second]
        concordance = np.sign(differences) @ reference_signs
        untied = np.count_nonzero(differences, axis=1)
        denominator = np.sqrt(untied * reference_untied)
        with np.errstate(divide="ignore", invalid="ignore"):
            taus[start : start + 256] = np.where(denominator > 0, concordance / denominator, np.nan)
    return taus
