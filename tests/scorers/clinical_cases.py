"""Random classification and survival test sets for the clinical metric tests: few distinct
values, so that scores, risks and times tie often, and heavy censoring."""

from __future__ import annotations

import numpy as np


def binary_case(rng: np.random.Generator, n: int, *, levels: int = 12):
    """(prob, label, multiplicities): probabilities on a grid of ``levels`` values (ties, 0
    and 1 included), both classes present, multiplicities 0 … 3."""
    label = rng.integers(0, 2, n)
    label[:2] = (0, 1)
    prob = np.round(rng.integers(0, levels, n) / (levels - 1) * 0.6 + 0.4 * label * rng.random(n),
                    2)
    prob = np.clip(prob, 0.0, 1.0)
    return prob, label, rng.integers(0, 4, n)


def survival_case(rng: np.random.Generator, n: int, *, censored: float = 0.7,
                  time_levels: int = 30, risk_levels: int = 15):
    """(risk, time, event, multiplicities): integer times 1 … time_levels (tied), about
    ``censored`` of the cases censored, risks on a grid of ``risk_levels`` values correlated
    with the time, and one last case censored after every other time (so that the censoring
    distribution stays positive at every event time, which scikit-survival requires)."""
    time = rng.integers(1, time_levels + 1, n).astype(np.float64)
    event = (rng.random(n) > censored).astype(np.int64)
    risk = np.round(-time / time_levels * 4 + rng.normal(size=n), 0) / 2 + rng.integers(
        0, risk_levels, n) // (risk_levels // 3)
    time[-1], event[-1] = time_levels + 5.0, 0
    weights = rng.integers(0, 4, n)
    weights[-1] = 1
    return risk, time, event, weights


def expand(weights: np.ndarray) -> np.ndarray:
    """Indices of the cases, each repeated as often as its multiplicity."""
    return np.repeat(np.arange(len(weights)), weights.astype(np.int64))
