"""Compiled inner loops of the segmentation metrics (numba, cached on disk).

Every kernel works on 3D C-contiguous arrays; 2D inputs are passed with a leading axis of
length 1. ``cache=True`` writes the compiled machine code next to this file (``__pycache__``) or,
where that is read-only, to numba's user-wide cache (``NUMBA_CACHE_DIR`` overrides both), so only
the first process on a machine pays the compile time (see docs/scorers.md).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_NO_BOX = np.iinfo(np.int64).max


@njit(cache=True, nogil=True)
def label_boxes(volume, words, lut, lowest, slots, skip_zero_rows, use_words):  # pragma: no cover
    """Bounding boxes and voxel counts of several labels in one pass over ``volume``.

    ``lut[value - lowest]`` is the slot (0 … slots-1) of a scored label value; values outside
    ``lut`` and entries equal to ``slots`` fall into a discarded sink slot, so the inner loop has
    no branches. Returns ``boxes`` (slots, 6) as (min0, max0, min1, max1, min2, max2), inclusive,
    with min > max for an absent label, and ``counts`` (slots,). With ``skip_zero_rows`` (0 is
    not scored) rows along the last axis that are all zero are skipped after an OR-reduction,
    with ``use_words`` over ``words``, the same rows seen as uint64 (n0, n1, row bytes / 8).
    """
    n0, n1, n2 = volume.shape
    sink = slots
    boxes = np.empty((sink + 1, 6), np.int64)
    boxes[:, 0::2] = _NO_BOX
    boxes[:, 1::2] = -1
    counts = np.zeros(sink + 1, np.int64)
    first = np.empty(sink + 1, np.int64)
    last = np.empty(sink + 1, np.int64)
    in_row = np.empty(sink + 1, np.int64)
    span = lut.shape[0]
    for i in range(n0):
        for j in range(n1):
            if skip_zero_rows:
                acc = np.uint64(0)
                if use_words:
                    for word in words[i, j]:
                        acc |= word
                else:
                    for value in volume[i, j]:
                        acc |= np.uint64(value)
                if acc == 0:
                    continue
            row = volume[i, j]
            first[:] = n2
            last[:] = -1
            in_row[:] = 0
            for k in range(n2):
                index = np.int64(row[k]) - lowest
                s = lut[index] if 0 <= index < span else sink
                in_row[s] += 1
                first[s] = min(first[s], k)
                last[s] = k
            for s in range(sink):
                if in_row[s]:
                    counts[s] += in_row[s]
                    b = boxes[s]
                    b[0] = min(b[0], i)
                    b[1] = max(b[1], i)
                    b[2] = min(b[2], j)
                    b[3] = max(b[3], j)
                    b[4] = min(b[4], first[s])
                    b[5] = max(b[5], last[s])
    return boxes[:sink], counts[:sink]


@njit(cache=True, nogil=True)
def surfel_codes_3d(padded):  # pragma: no cover - compiled
    """2×2×2 neighbourhood codes on the corner grid of a mask padded by one zero voxel per side.

    ``padded`` has shape (n0+2, n1+2, n2+2) and holds 0/1; the result has shape
    (n0+1, n1+1, n2+1) and bit order of :func:`scorers._surfel_tables.corner_bit`.
    """
    m0, m1, m2 = padded.shape
    codes = np.empty((m0 - 1, m1 - 1, m2 - 1), np.uint8)
    for i in range(m0 - 1):
        for j in range(m1 - 1):
            a = padded[i, j]
            b = padded[i, j + 1]
            c = padded[i + 1, j]
            d = padded[i + 1, j + 1]
            out = codes[i, j]
            for k in range(m2 - 1):
                out[k] = ((a[k] << 7) | (a[k + 1] << 6) | (b[k] << 5) | (b[k + 1] << 4)
                          | (c[k] << 3) | (c[k + 1] << 2) | (d[k] << 1) | d[k + 1])
    return codes


@njit(cache=True, nogil=True)
def surfel_codes_2d(padded):  # pragma: no cover - compiled
    """2×2 neighbourhood codes on the corner grid of a 2D mask padded by one zero pixel."""
    m0, m1 = padded.shape
    codes = np.empty((m0 - 1, m1 - 1), np.uint8)
    for i in range(m0 - 1):
        a = padded[i]
        c = padded[i + 1]
        out = codes[i]
        for k in range(m1 - 1):
            out[k] = (a[k] << 3) | (a[k + 1] << 2) | (c[k] << 1) | c[k + 1]
    return codes


@njit(cache=True, nogil=True)
def voxel_border(padded, check_axis0):  # pragma: no cover - compiled
    """Voxels of a padded 0/1 mask with at least one face neighbour outside the mask.

    This is ``mask & ~binary_erosion(mask)`` with the face-connected (cross) structuring element
    and outside-the-image counted as background, as MONAI's ``get_mask_edges``. ``padded`` has
    one zero voxel on each side of axes 1 and 2, and of axis 0 when ``check_axis0``; without it
    axis 0 is neither padded nor looked along (a 2D mask passed with a leading axis of 1).
    The result has the unpadded shape.
    """
    m0, m1, m2 = padded.shape
    lo = 1 if check_axis0 else 0
    border = np.zeros((m0 - 2 * lo, m1 - 2, m2 - 2), np.uint8)
    for i in range(lo, m0 - lo):
        for j in range(1, m1 - 1):
            centre = padded[i, j]
            left = padded[i, j - 1]
            right = padded[i, j + 1]
            up = padded[i - lo, j]
            down = padded[i + lo, j]
            out = border[i - lo, j - 1]
            for k in range(1, m2 - 1):
                inner = left[k] & right[k] & centre[k - 1] & centre[k + 1] & up[k] & down[k]
                out[k - 1] = centre[k] & (inner ^ 1)
    return border


@njit(cache=True, nogil=True)
def _column_distances(features, s0):  # pragma: no cover - compiled
    """Squared distance along axis 0 to the nearest feature of the same column, (Δ0·s0)²."""
    n0, n1, n2 = features.shape
    grid = np.empty((n0, n1, n2), np.float64)
    for j in range(n1):
        for k in range(n2):
            grid[0, j, k] = 0.0 if features[0, j, k] else np.inf
    for i in range(1, n0):
        for j in range(n1):
            for k in range(n2):
                grid[i, j, k] = 0.0 if features[i, j, k] else grid[i - 1, j, k] + 1.0
    for i in range(n0 - 2, -1, -1):
        for j in range(n1):
            for k in range(n2):
                grid[i, j, k] = min(grid[i, j, k], grid[i + 1, j, k] + 1.0)
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                step = grid[i, j, k] * s0
                grid[i, j, k] = step * step
    return grid


@njit(cache=True, nogil=True)
def _row_envelope(source, target, i, k, s1, f, positions, bounds):  # pragma: no cover
    """target[i, :, k] = min_j' source[i, j', k] + ((j - j')·s1)², by Felzenszwalb &
    Huttenlocher's lower envelope of parabolas (the minimum is evaluated as that sum)."""
    n1 = source.shape[1]
    for j in range(n1):
        f[j] = source[i, j, k]
    top = -1
    for q in range(n1):
        fq = f[q]
        if fq == np.inf:
            continue
        yq = q * s1
        cut = -np.inf
        while top >= 0:
            p = positions[top]
            yp = p * s1
            cut = ((fq + yq * yq) - (f[p] + yp * yp)) / (2.0 * (yq - yp))
            if cut > bounds[top]:
                break
            top -= 1
        if top < 0:
            cut = -np.inf
        top += 1
        positions[top] = q
        bounds[top] = cut
    if top < 0:
        for j in range(n1):
            target[i, j, k] = np.inf
        return
    current = 0
    for j in range(n1):
        y = j * s1
        while current < top and bounds[current + 1] < y:
            current += 1
        p = positions[current]
        step = (j - p) * s1
        target[i, j, k] = f[p] + step * step


@njit(cache=True, nogil=True)
def _local_search(grid, i, j, k, s1, s2, budget):  # pragma: no cover - compiled
    """min over (dj, dk) of (grid[i, j+dj, k+dk] + (dj·s1)²) + (dk·s2)², visiting rows dk and
    cells dj outward and stopping where (dj·s1)² + (dk·s2)² alone reaches the best sum.
    Returns -1 if that needs more than ``budget`` cells."""
    n1 = grid.shape[1]
    n2 = grid.shape[2]
    best = grid[i, j, k] + 0.0
    visited = 0
    dk = 0
    while True:
        along_k = dk * s2
        extra_k = along_k * along_k
        if extra_k >= best or (k - dk < 0 and k + dk >= n2):
            return best
        for side in range(2):
            kk = k - dk if side == 0 else k + dk
            if kk < 0 or kk >= n2 or (side == 1 and dk == 0):
                continue
            dj = 0
            while True:
                along_j = dj * s1
                reach = along_j * along_j + extra_k
                if reach >= best or (j - dj < 0 and j + dj >= n1):
                    break
                visited += 1
                if visited > budget:
                    return -1.0
                if j - dj >= 0:
                    candidate = (grid[i, j - dj, kk] + along_j * along_j) + extra_k
                    if candidate < best:
                        best = candidate
                if dj > 0 and j + dj < n1:
                    candidate = (grid[i, j + dj, kk] + along_j * along_j) + extra_k
                    if candidate < best:
                        best = candidate
                dj += 1
        dk += 1


@njit(cache=True, nogil=True)
def squared_distances_at(features, queries, s0, s1, s2, budget):  # pragma: no cover
    """Squared Euclidean distance (mm²) from each query point to the nearest feature point.

    ``features`` is a 3D 0/1 grid with at least one feature; ``queries`` are flat C-order
    indices into it. Exact, as scipy's ``distance_transform_edt`` with ``sampling``, with sums
    formed in its order ((Δ0·s0)² + (Δ1·s1)²) + (Δ2·s2)² so that ties at a tolerance compare
    alike. Axis 0 by two sweeps over the whole grid; then, per query, an outward search over
    axes 1 and 2 that stops once the in-plane offset alone exceeds the best sum — a few cells
    for the near points that dominate real cases. A query whose search needs more than
    ``budget`` cells (the caller passes a few times the line lengths) takes the separable
    route instead: axis 1 by the lower envelope of parabolas (Felzenszwalb & Huttenlocher),
    once per line and only for the lines reached, then axis 2 by the same outward search
    along the line. Queries come in C order, so neighbours tend to need the same route: after
    a query took the separable route the next one gets a budget of only 16 cells.
    """
    n0, n1, n2 = features.shape
    grid = _column_distances(features, s0)
    rows = np.empty_like(grid)
    done = np.zeros((n0, n2), np.uint8)
    f = np.empty(n1, np.float64)
    positions = np.empty(n1, np.int64)
    bounds = np.empty(n1 + 1, np.float64)
    out = np.empty(queries.shape[0], np.float64)
    plane = n1 * n2
    local = True
    for q in range(queries.shape[0]):
        flat = queries[q]
        i = flat // plane
        j = (flat % plane) // n2
        k = flat % n2
        best = _local_search(grid, i, j, k, s1, s2, budget if local else 16)
        local = best >= 0.0
        if local:
            out[q] = best
            continue
        if not done[i, k]:
            _row_envelope(grid, rows, i, k, s1, f, positions, bounds)
            done[i, k] = 1
        best = rows[i, j, k] + 0.0
        step = 1
        while True:
            reach = step * s2
            extra = reach * reach
            if extra >= best or (k - step < 0 and k + step >= n2):
                break
            for kk in (k - step, k + step):
                if 0 <= kk < n2:
                    if not done[i, kk]:
                        _row_envelope(grid, rows, i, kk, s1, f, positions, bounds)
                        done[i, kk] = 1
                    candidate = rows[i, j, kk] + extra
                    if candidate < best:
                        best = candidate
            step += 1
        out[q] = best
    return out
