"""Surface points, their measures, and the distances between two surfaces.

Two surface representations (docs/scorers.md compares them):

* ``"surfel"`` — DeepMind surface-distance's: surface points on the corners of the voxel grid
  (the grid shifted by half a voxel), each weighted by the length (2D, mm) or area (3D, mm²) of
  the marching-squares/cubes surface in its 2^n neighbourhood (:mod:`scorers._surfel_tables`).
* ``"voxel"`` — MONAI's and MetricsReloaded's: the mask's voxels that have a face neighbour
  outside it (``mask ^ binary_erosion(mask)``, cross-shaped structuring element, outside the
  image counted as background), each weighing 1.

Distances are Euclidean in mm between surface-point centres, exact (separable EDT).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from scorers import _kernels
from scorers._surfel_tables import measure_table
from scorers._threads import both

SURFACES = ("surfel", "voxel")


@dataclass(frozen=True)
class SurfaceDistances:
    """Directed distances between the surfaces of a prediction P and a reference R.

    ``pred_to_ref[i]`` is the distance (mm) from P's i-th surface point to the nearest point of
    R's surface, ``pred_weights[i]`` that point's measure (mm or mm² for surfels, 1 for voxels);
    likewise for ``ref_to_pred``/``ref_weights``. Points are in C order, not sorted.
    """

    pred_to_ref: np.ndarray
    pred_weights: np.ndarray
    ref_to_pred: np.ndarray
    ref_weights: np.ndarray


@lru_cache(maxsize=64)
def _table(spacing_mm: tuple[float, ...]) -> np.ndarray:
    return measure_table(spacing_mm)


def _as_3d(array: np.ndarray) -> np.ndarray:
    return array if array.ndim == 3 else array.reshape((1, *array.shape))


def _spacing_3d(spacing_mm: tuple[float, ...]) -> tuple[float, float, float]:
    full = spacing_mm if len(spacing_mm) == 3 else (1.0, *spacing_mm)
    return float(full[0]), float(full[1]), float(full[2])


def _surfels(padded: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(surface grid, flat indices of surface points, their measures) of a padded 0/1 mask."""
    if padded.ndim == 3:
        codes = _kernels.surfel_codes_3d(padded)
    else:
        codes = _kernels.surfel_codes_2d(padded)
    full = len(table) - 1
    surface = (codes != 0) & (codes != full)
    points = np.flatnonzero(surface)
    return surface, points, table[codes.ravel()[points]]


def _voxel_border(padded: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(surface grid, flat indices of border voxels, unit weights) of a padded 0/1 mask."""
    if padded.ndim == 3:
        border = _kernels.voxel_border(padded, True)
    else:
        border = _kernels.voxel_border(padded.reshape((1, *padded.shape)), False)[0]
    points = np.flatnonzero(border)
    return border, points, np.ones(points.shape[0])


def surface_distances(
    pred_padded: np.ndarray,
    ref_padded: np.ndarray,
    *,
    spacing_mm: tuple[float, ...],
    surface: str,
) -> SurfaceDistances:
    """Directed surface distances between two non-empty masks.

    Both masks are 0/1 ``uint8`` arrays of equal shape, 2D or 3D, C-contiguous, padded by one
    background voxel on every side (so every surface point lies inside the array).
    ``spacing_mm`` gives the voxel size per axis. As ``compute_surface_distances`` in DeepMind
    surface-distance for ``surface="surfel"``, as MONAI's ``get_surface_distance`` on the edges of
    ``get_mask_edges`` for ``surface="voxel"`` (there as float64, MONAI rounds to float32).
    """
    if surface == "surfel":
        table = _table(tuple(float(s) for s in spacing_mm))
        grid_p, points_p, weights_p = _surfels(pred_padded, table)
        grid_r, points_r, weights_r = _surfels(ref_padded, table)
    else:
        grid_p, points_p, weights_p = _voxel_border(pred_padded)
        grid_r, points_r, weights_r = _voxel_border(ref_padded)
    s0, s1, s2 = _spacing_3d(spacing_mm)
    grid_r, grid_p = _as_3d(grid_r).view(np.uint8), _as_3d(grid_p).view(np.uint8)
    budget = 4 * (grid_r.shape[1] + grid_r.shape[2])
    to_ref, to_pred = both(
        lambda: _kernels.squared_distances_at(grid_r, points_p, s0, s1, s2, budget),
        lambda: _kernels.squared_distances_at(grid_p, points_r, s0, s1, s2, budget),
    )
    return SurfaceDistances(np.sqrt(to_ref), weights_p, np.sqrt(to_pred), weights_r)
