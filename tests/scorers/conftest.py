"""Shared fixtures of the segmentation and NIfTI tests: reference libraries, masks, files."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage


@pytest.fixture(scope="session")
def surface_distance():
    """DeepMind surface-distance 0.1, importable under NumPy 2 (it still uses np.Inf/np.NaN)."""
    added = [name for name in ("Inf", "NaN") if not hasattr(np, name)]
    np.Inf = np.inf
    np.NaN = np.nan
    import surface_distance as library

    yield library
    for name in added:
        delattr(np, name)


def blob(rng: np.random.Generator, shape: tuple[int, ...], *, smooth: float = 1.0) -> np.ndarray:
    """A random, irregular, usually non-empty bool mask: thresholded smoothed noise."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), smooth)
    return field > rng.uniform(-0.1, 0.4) * field.std()


def random_pair(
    rng: np.random.Generator, ndim: int, *, max_side: int = 14
) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """(pred, ref, spacing_mm): two non-empty masks of one random shape, anisotropic spacing."""
    while True:
        shape = tuple(int(n) for n in rng.integers(3, max_side, ndim))
        pred, ref = blob(rng, shape), blob(rng, shape)
        if pred.any() and ref.any():
            spacing = tuple(float(s) for s in rng.uniform(0.3, 3.0, ndim).round(3))
            return pred, ref, spacing
