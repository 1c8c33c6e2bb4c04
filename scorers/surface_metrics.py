"""Surface metrics from directed surface distances (:class:`scorers.surfaces.SurfaceDistances`).

Each function takes the distances of two non-empty masks and the surface representation they
were computed on; empty masks are handled by :func:`scorers.segmentation.score_case`.

``surface="surfel"`` follows DeepMind surface-distance 0.1 exactly (surfel-measure weighted);
``surface="voxel"`` follows MONAI 1.6 (every border voxel weighs 1, distances rounded to
float32 as MONAI stores them). docs/scorers.md lists the definitions side by side.
"""

from __future__ import annotations

import numpy as np

from scorers.surfaces import SurfaceDistances

# Relative distance of a cumulative weight share from the percentile below which summation
# order could matter (rounding is ~1e-16 per addition).
_TIE_MARGIN = 1e-9


def _voxel_distances(distances: SurfaceDistances) -> tuple[np.ndarray, np.ndarray]:
    return (distances.pred_to_ref.astype(np.float32), distances.ref_to_pred.astype(np.float32))


def normalized_surface_dice(
    distances: SurfaceDistances, *, tolerance_mm: float, surface: str
) -> float:
    """NSD at tolerance τ (mm), in [0, 1].

    NSD = (|{p ∈ ∂P : d(p, ∂R) ≤ τ}| + |{r ∈ ∂R : d(r, ∂P) ≤ τ}|) / (|∂P| + |∂R|), where |·|
    is the summed surfel measure (surfel; as ``compute_surface_dice_at_tolerance``) or the
    number of border voxels (voxel; as MONAI's ``compute_surface_dice``, comparing float32).
    """
    if surface == "voxel":
        to_ref, to_pred = _voxel_distances(distances)
        limit = np.float32(tolerance_mm)
        hits = np.count_nonzero(to_ref <= limit) + np.count_nonzero(to_pred <= limit)
        return float(hits / (to_ref.size + to_pred.size))
    hits_pred = np.sum(distances.pred_weights[distances.pred_to_ref <= tolerance_mm])
    hits_ref = np.sum(distances.ref_weights[distances.ref_to_pred <= tolerance_mm])
    total = np.sum(distances.pred_weights) + np.sum(distances.ref_weights)
    return float((hits_pred + hits_ref) / total)


def _exact_weighted_percentile(values: np.ndarray, weights: np.ndarray, percent: float) -> float:
    """surface-distance's robust percentile, step by step: sort by (distance, weight), take the
    first value whose cumulative normalised weight reaches percent/100 (the last value if
    rounding never reaches it)."""
    order = np.lexsort((weights, values))
    sorted_weights = weights[order]
    cumulative = np.cumsum(sorted_weights) / np.sum(sorted_weights)
    index = int(np.searchsorted(cumulative, percent / 100.0))
    return float(values[order[min(index, values.size - 1)]])


def _weighted_percentile(values: np.ndarray, weights: np.ndarray, percent: float) -> float:
    """The same value as :func:`_exact_weighted_percentile`, from per-distance weight sums.

    The answer is the smallest distinct distance whose cumulative weight share reaches
    percent/100, so sorting the distinct values suffices. Summation order differs from the
    step-by-step definition only in the last bits; when a share is that close to the
    threshold, the step-by-step definition decides.
    """
    levels = np.unique(values)
    sums = np.bincount(np.searchsorted(levels, values), weights=weights, minlength=levels.size)
    shares = np.cumsum(sums)
    shares /= shares[-1]
    target = percent / 100.0
    index = int(np.searchsorted(shares, target))
    near = shares[max(index - 1, 0) : index + 1]
    if np.any(np.abs(near - target) <= _TIE_MARGIN):
        return _exact_weighted_percentile(values, weights, percent)
    return float(levels[min(index, levels.size - 1)])


def _float32_quantile(values: np.ndarray, fraction: float) -> float:
    """The linearly interpolated quantile as ``torch.quantile`` computes it on a float32
    tensor (MONAI's ``compute_hausdorff_distance``): position and weight in float32, and the
    interpolation done from the nearer end (torch's ``lerp``). np.percentile, in float64,
    differs in the last float32 bits when the two neighbours are far apart."""
    count = values.size
    position = np.float32(fraction) * np.float32(count - 1)
    low = int(np.floor(position))
    high = min(low + 1, count - 1)
    ordered = np.partition(values, (low, high)) if count > 1 else values
    a, b = ordered[low], ordered[high]
    weight = np.float32(position - np.float32(low))
    if weight < 0.5:
        return float(a + weight * (b - a))
    return float(b - (b - a) * (np.float32(1) - weight))


def hausdorff(distances: SurfaceDistances, *, percent: float, surface: str) -> float:
    """Symmetric (robust) Hausdorff distance in mm: the larger of the two directed percentiles.

    percent = 100 gives HD (the largest distance either way). Otherwise surfel uses the
    surfel-measure-weighted percentile of ``compute_robust_hausdorff``; voxel uses
    linear interpolation over border voxels exactly as MONAI's
    ``compute_hausdorff_distance(percentile=...)`` does it (``torch.quantile`` in float32).
    """
    if surface == "voxel":
        directed = _voxel_distances(distances)
        if percent == 100:
            return float(max(d.max() for d in directed))
        return max(_float32_quantile(d, percent / 100.0) for d in directed)
    if percent == 100:
        return float(max(distances.pred_to_ref.max(), distances.ref_to_pred.max()))
    return max(
        _weighted_percentile(distances.pred_to_ref, distances.pred_weights, percent),
        _weighted_percentile(distances.ref_to_pred, distances.ref_weights, percent),
    )


def average_symmetric_surface_distance(distances: SurfaceDistances, *, surface: str) -> float:
    """ASSD in mm.

    surfel: the mean of the two directed surfel-weighted mean distances (the two values of
    ``compute_average_surface_distance``, averaged). voxel: the mean over the pooled distances
    of both directions, as MONAI's ``compute_average_surface_distance(symmetric=True)`` —
    border voxels of the larger surface weigh more than in the surfel definition.
    """
    if surface == "voxel":
        to_ref, to_pred = _voxel_distances(distances)
        total = np.sum(to_ref, dtype=np.float64) + np.sum(to_pred, dtype=np.float64)
        return float(total / (to_ref.size + to_pred.size))
    mean_pred = np.sum(distances.pred_to_ref * distances.pred_weights) / np.sum(
        distances.pred_weights
    )
    mean_ref = np.sum(distances.ref_to_pred * distances.ref_weights) / np.sum(
        distances.ref_weights
    )
    return float((mean_pred + mean_ref) / 2.0)
