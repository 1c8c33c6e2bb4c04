"""Numbers as snapshots store them: JSON has no NaN or infinity, and ranks read as integers."""

import math

import numpy as np


def finite(value) -> float | None:
    """A float, or None for NaN, ±inf and None (JSON cannot hold them)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def rank_value(value) -> int | float | None:
    """A rank as an int when it is whole (1, 2, 2, 4), else a float (2.5); None if missing."""
    value = finite(value)
    if value is None:
        return None
    return int(value) if value.is_integer() else value


def rounded(value, digits: int = 6) -> float | None:
    """A per-case value for plots, to ``digits`` significant digits (None if not finite)."""
    value = finite(value)
    return None if value is None else float(f"{value:.{digits}g}")


def tau_summary(tau: np.ndarray) -> dict | None:
    """Median and 2.5 %/97.5 % quantiles of Kendall's tau-b over the resamples that define it
    (a resample that ties everybody has none, and is left out as challengeR does)."""
    defined = tau[np.isfinite(tau)]
    if not len(defined):
        return None
    low, median, high = np.quantile(defined, [0.025, 0.5, 0.975])
    return {"median": float(median), "q025": float(low), "q975": float(high),
            "resamples": len(defined)}
