"""Slow, obvious implementations of the surface metrics: all pairwise distances, explicit sorts.

Independent of scorers' kernels: surfel codes come from surface-distance's encoding kernel and
lookup tables (passed in), border voxels from explicit neighbour comparisons, distances from
every pair of surface points with the sum formed as ((Δ0·s0)² + (Δ1·s1)²) + (Δ2·s2)².
"""

from __future__ import annotations

import itertools

import numpy as np


def surfel_points(mask: np.ndarray, spacing: tuple[float, ...], lookup_tables) -> tuple:
    """(corner coordinates (k, n), surfel measures (k,)) of a bool mask, per surface-distance."""
    ndim = mask.ndim
    if ndim == 3:
        kernel = lookup_tables.ENCODE_NEIGHBOURHOOD_3D_KERNEL
        table = lookup_tables.create_table_neighbour_code_to_surface_area(spacing)
    else:
        kernel = lookup_tables.ENCODE_NEIGHBOURHOOD_2D_KERNEL
        table = lookup_tables.create_table_neighbour_code_to_contour_length(spacing)
    padded = np.pad(mask.astype(np.int64), 1)
    corners = tuple(n + 1 for n in mask.shape)
    codes = np.zeros(corners, np.int64)
    for offset in itertools.product((0, 1), repeat=ndim):
        window = tuple(slice(o, o + n) for o, n in zip(offset, corners, strict=True))
        codes += int(kernel[offset]) * padded[window]
    surface = (codes != 0) & (codes != 2 ** (2**ndim) - 1)
    return np.argwhere(surface), table[codes[surface]]


def border_voxels(mask: np.ndarray) -> np.ndarray:
    """Coordinates of mask voxels with a face neighbour outside the mask (or the image)."""
    padded = np.pad(mask, 1)
    inner = np.ones(mask.shape, bool)
    centre = tuple(slice(1, n + 1) for n in mask.shape)
    for axis in range(mask.ndim):
        for step in (-1, 1):
            window = list(centre)
            window[axis] = slice(1 + step, mask.shape[axis] + 1 + step)
            inner &= padded[tuple(window)]
    return np.argwhere(mask & ~inner)


def nearest(points: np.ndarray, others: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """Distance (mm) from each point to the nearest of ``others``, by all pairs."""
    total = np.zeros((len(points), len(others)))
    for axis, s in enumerate(spacing):
        step = (points[:, None, axis] - others[None, :, axis]).astype(float) * s
        total = total + step * step
    return np.sqrt(total.min(axis=1))


def surfel_metrics(pred, ref, spacing, tolerance, lookup_tables) -> dict[str, float]:
    """NSD, HD, HD95 and ASSD on surfels, by definition (both masks non-empty)."""
    points_p, areas_p = surfel_points(pred, spacing, lookup_tables)
    points_r, areas_r = surfel_points(ref, spacing, lookup_tables)
    to_ref = nearest(points_p, points_r, spacing)
    to_pred = nearest(points_r, points_p, spacing)

    def percentile(distances, areas):
        pairs = sorted(zip(distances.tolist(), areas.tolist(), strict=True))
        total = sum(area for _, area in pairs)
        running = 0.0
        for distance, area in pairs:
            running += area
            if running / total >= 0.95:
                return distance
        return pairs[-1][0]

    return {
        "nsd": (areas_p[to_ref <= tolerance].sum() + areas_r[to_pred <= tolerance].sum())
        / (areas_p.sum() + areas_r.sum()),
        "hd": max(to_ref.max(), to_pred.max()),
        "hd95": max(percentile(to_ref, areas_p), percentile(to_pred, areas_r)),
        "assd": ((to_ref * areas_p).sum() / areas_p.sum()
                 + (to_pred * areas_r).sum() / areas_r.sum()) / 2,
    }


def voxel_metrics(pred, ref, spacing, tolerance) -> dict[str, float]:
    """NSD, HD, HD95 and ASSD on border voxels as MONAI defines them (float32 distances)."""
    points_p, points_r = border_voxels(pred), border_voxels(ref)
    to_ref = nearest(points_p, points_r, spacing).astype(np.float32)
    to_pred = nearest(points_r, points_p, spacing).astype(np.float32)
    limit = np.float32(tolerance)
    pooled = np.concatenate([to_ref, to_pred]).astype(float)
    return {
        "nsd": ((to_ref <= limit).sum() + (to_pred <= limit).sum()) / pooled.size,
        "hd": float(max(to_ref.max(), to_pred.max())),
        "hd95": float(max(np.percentile(to_ref, 95), np.percentile(to_pred, 95))),
        "assd": pooled.mean(),
    }


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """2|P∩R| / (|P|+|R|)."""
    return 2 * np.logical_and(pred, ref).sum() / (pred.sum() + ref.sum())
