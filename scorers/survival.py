"""Survival metrics of a whole test set: concordance, time-dependent AUC, integrated Brier score.

Public API (prediction first, then the reference; keyword-only parameters after them):

- :func:`harrell_c` ``(risk, time, event, *, weights=None)``
- :func:`uno_c` ``(risk, time, event, *, tau, tied_tol=1e-8, weights=None)``
- :func:`cumulative_dynamic_auc` ``(risk, time, event, *, times, tied_tol=1e-8, weights=None)``
  → ``(auc per time, mean auc)``
- :func:`integrated_brier` ``(surv_prob, time, event, *, times, weights=None)``
- ``harrell_c_many``, ``uno_c_many``, ``cumulative_dynamic_auc_many``,
  ``integrated_brier_many``: the same for a list of K predictions scored on the same cases and
  resamples (results (K,) or (B, K)), sharing what depends only on the labels (Ĝ, the weights
  at risk); the bootstrap of a leaderboard calls these through
  ``scorers.clinical.set_metric_many``.

``risk`` (n,): a higher risk means a shorter expected survival. ``time`` (n,): observed time,
finite and ≥ 0, in the task's unit; ``event`` (n,): 1 the event was observed at ``time``, 0 the
case was censored then. ``weights`` as in :mod:`scorers.clinical`: None, case multiplicities
(n,), or bootstrap multiplicities (B, n) giving (B,) results; a case of multiplicity w counts as
w copies. Undefined values (no comparable pair, no control at a time) are NaN.

Comparable pairs (all three concordance measures, as lifelines and scikit-survival): (i, j) with
i an event and either t_j > t_i, or t_j = t_i and j censored (a case censored at the time of an
event was still at risk then). Two events at the same time, and two censored cases, are never
compared. The pair is concordant when risk_i > risk_j; tied risks count ½.

The inverse-probability-of-censoring weights come from Ĝ, the Kaplan–Meier estimate of the
censoring distribution ("reverse" Kaplan–Meier: censorings are the events, and at a tied time
the events leave the risk set before the censorings), **estimated on the test set itself**
(scikit-survival's ``survival_train = survival_test``): Podium holds no training data, and the
test set is the one sample of the censoring process it has. Ĝ(t) = Π_{s ≤ t} (1 − c_s / (Y_s −
d_s)), c_s, d_s the censorings and events at s, Y_s the cases at risk.
"""

from __future__ import annotations

import numbers
from functools import cached_property

import numpy as np

from scorers._clinical_common import (
    multiplicities,
    pair_concordance,
    probabilities,
    ratio,
    scores,
    survival_truth,
    tie_groups,
)
from scorers.errors import InputError

_BLOCK = 1024  # anchor cases per block of the pair kernel: bounds it to 1024 × n floats


def _inputs(risk, time, event, weights, name="risk"):
    risk = scores(risk, name=name, ndim=1 if name == "risk" else 2)
    time, event = survival_truth(time, event, n=risk.shape[0])
    w, batched = multiplicities(weights, len(time))
    return risk, _Truth(time, event, w), batched


def _stacked(risks, time, event, weights):
    """K risk vectors validated, as a (K, n) array, and the truth they share."""
    if len(risks) == 0:
        raise InputError("risk: expected at least one prediction")
    first, truth, batched = _inputs(risks[0], time, event, weights)
    rows = [first] + [scores(r, name="risk", n=len(first)) for r in risks[1:]]
    return np.vstack(rows), truth, batched


class _Truth:
    """The observed times and events of the test set with its multiplicities ``w`` (B, n), and
    what every algorithm's score needs of them, computed once (Ĝ, the weights at risk)."""

    def __init__(self, time: np.ndarray, event: np.ndarray, w: np.ndarray):
        self.time, self.event, self.w = time, event, w
        order, starts = tie_groups(time)
        flags = np.zeros(len(time), dtype=np.int64)
        flags[starts] = 1
        self.group = np.empty(len(time), dtype=np.int64)
        self.group[order] = np.cumsum(flags) - 1
        self.distinct = time[order][starts]
        # Weights summed per distinct time, ascending: as cumulative sums taken at the group
        # ends, one pass over the sorted (B, n) weights (np.add.reduceat is slower here).
        ordered = w[:, order]
        ends = np.r_[starts[1:], len(time)] - 1

        def per_time(values):
            totals = np.cumsum(values, axis=1)[:, ends]
            totals[:, 1:] -= totals[:, :-1].copy()
            return totals

        self.died = per_time(ordered * event[order])
        self.censored = per_time(ordered * ~event[order])

    def kaplan_meier(self, *, reverse: bool) -> np.ndarray:
        """S (B, U) at the distinct times: Kaplan–Meier of the events, or with ``reverse`` of
        the censorings (Ĝ), as ``sksurv.nonparametric.kaplan_meier_estimator``."""
        leaving = self.died + self.censored
        at_risk = self.w.sum(axis=1, keepdims=True) - (np.cumsum(leaving, axis=1) - leaving)
        events, risk = ((self.censored, at_risk - self.died) if reverse
                        else (self.died, at_risk))
        with np.errstate(divide="ignore", invalid="ignore"):
            hazard = np.where(events != 0, events / np.where(events != 0, risk, 1.0), 0.0)
        return np.cumprod(1.0 - hazard, axis=1)

    @cached_property
    def integral(self) -> bool:
        """Whether every multiplicity is a whole number and each resample holds < 2²² cases."""
        return bool((self.w == np.round(self.w)).all() and self.w.sum(axis=1).max() < 2**22)

    @cached_property
    def w32(self) -> np.ndarray:
        return self.w.astype(np.float32)

    @cached_property
    def censoring(self) -> np.ndarray:
        """Ĝ (B, U) at the distinct times."""
        return self.kaplan_meier(reverse=True)

    @cached_property
    def censoring_at_cases(self) -> np.ndarray:
        """Ĝ(t_i) (B, n)."""
        return self.censoring[:, self.group]

    @cached_property
    def later_weight(self) -> np.ndarray:
        """Σ_j comparable(i, j) w_j for every case i taken as an event (B, n): the weight of the
        cases with a later time plus the censored ones at i's time. O(B·n)."""
        total = self.died + self.censored
        later = total[:, ::-1].cumsum(axis=1)[:, ::-1] - total
        return (later + self.censored)[:, self.group]

    def step_at(self, curve: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The right-continuous step function ``curve`` (B, U) at times ``at``: its value at
        the last distinct time ≤ t, 1 before the first."""
        index = np.searchsorted(self.distinct, at, side="right")
        return np.concatenate([np.ones((len(curve), 1)), curve], axis=1)[:, index]


def _concordant(risk, truth: _Truth, anchors, anchor_weight, tol):
    """Σ_i a_i Σ_j comparable(i, j) w_j s_ij per resample, over the ``anchors`` i (events) with
    weights ``a`` (B, m); s_ij = ½ when |risk_i − risk_j| ≤ tol, else 1[risk_i > risk_j]. One
    matrix product per block of anchors: O(B·m·n) multiply-adds, in BLAS. With integer
    multiplicities the product is exact in float32 (its terms are multiples of ½ and its sums
    stay below 2²⁴ for any n under 8 million), which halves its time."""
    time, event, w = truth.time, truth.event, truth.w
    exact32 = truth.integral
    concordant = np.zeros(len(w))
    for start in range(0, len(anchors), _BLOCK):
        block = anchors[start:start + _BLOCK]
        later = (time[None, :] > time[block, None]) | (
            (time[None, :] == time[block, None]) & ~event[None, :])
        difference = risk[block, None] - risk[None, :]
        kernel = np.where(np.abs(difference) <= tol, 0.5, difference > 0)
        kernel = np.where(later, kernel, 0.0).astype(np.float32 if exact32 else np.float64)
        product = (truth.w32 if exact32 else w) @ kernel.T
        concordant += np.einsum("bi,bi->b", anchor_weight[:, start:start + _BLOCK],
                                product.astype(np.float64))
    return concordant


def harrell_c(risk, time, event, *, weights=None):
    """Harrell's concordance index: over comparable pairs (module docstring), the share with
    risk_i > risk_j, exactly tied risks counting ½,

        C = Σ_{comparable (i, j)} w_i w_j (1[r_i > r_j] + ½·1[r_i = r_j]) / Σ w_i w_j,

    equal to ``lifelines.utils.concordance_index(time, -risk, event)`` with its tie handling
    (lifelines takes predicted survival times, hence −risk). Tied times: two events at the same
    time are not compared; an event and a censoring at the same time are. NaN without a
    comparable pair (lifelines raises ZeroDivisionError)."""
    return _first(harrell_c_many([risk], time, event, weights=weights))


def harrell_c_many(risks, time, event, *, weights=None):
    """:func:`harrell_c` of K risk vectors scored on the same cases and resamples: (K,), or
    (B, K) with (B, n) weights. The weights at risk are computed once for all K."""
    risks, truth, batched = _stacked(risks, time, event, weights)
    anchors = np.flatnonzero(truth.event)
    a = truth.w[:, anchors]
    pairs = np.einsum("bi,bi->b", a, truth.later_weight[:, anchors])
    concordant = np.column_stack([_concordant(r, truth, anchors, a, 0.0) for r in risks])
    return _many(ratio(concordant, pairs[:, None]), batched)


def _many(values: np.ndarray, batched: bool):
    """(B, K) values, or the one resample's (K,) when the caller passed no (B, n) weights."""
    return values if batched else values[0]


def _first(values: np.ndarray):
    """The first prediction's values: (B,) from (B, K), a float from (K,)."""
    return values[:, 0] if values.ndim == 2 else float(values[0])


def _positive_number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            np.isfinite(value) and value > 0):
        raise InputError(f"{name} {value!r}: expected a positive number")
    return float(value)


def uno_c(risk, time, event, *, tau: float, tied_tol: float = 1e-8, weights=None):
    """Uno's IPCW concordance truncated at τ (Uno et al., Stat Med 2011;30:1105–17):

        C_τ = Σ_{comparable (i, j), t_i < τ} w_i w_j Ĝ(t_i)⁻² s_ij / Σ_{…} w_i w_j Ĝ(t_i)⁻²,

    s_ij = ½ when |risk_i − risk_j| ≤ ``tied_tol``, else 1[risk_i > risk_j]; Ĝ estimated on the
    test set (module docstring). Equal to ``sksurv.metrics.concordance_index_ipcw(y, y, risk,
    tau)`` with ``y`` the test set (its default tied_tol). NaN without a comparable pair, or when
    Ĝ(t_i) = 0 for an event before τ (the last time, censored and event tied there:
    scikit-survival raises)."""
    return _first(uno_c_many([risk], time, event, tau=tau, tied_tol=tied_tol, weights=weights))


def uno_c_many(risks, time, event, *, tau: float, tied_tol: float = 1e-8, weights=None):
    """:func:`uno_c` of K risk vectors on the same cases and resamples: (K,) or (B, K); Ĝ and
    the weights at risk are computed once for all K."""
    risks, truth, batched = _stacked(risks, time, event, weights)
    tau = _positive_number(tau, "tau")
    anchors = np.flatnonzero(truth.event & (truth.time < tau))
    g = truth.censoring_at_cases[:, anchors]
    undefined = ((truth.w[:, anchors] > 0) & (g == 0)).any(axis=1)
    with np.errstate(divide="ignore"):
        ipcw = np.where(g > 0, 1.0 / np.where(g > 0, g, 1.0), 0.0)
    a = truth.w[:, anchors] * ipcw**2
    pairs = np.einsum("bi,bi->b", a, truth.later_weight[:, anchors])
    concordant = np.column_stack([_concordant(r, truth, anchors, a, tied_tol) for r in risks])
    values = ratio(concordant, pairs[:, None])
    return _many(np.where(undefined[:, None], np.nan, values), batched)


def _follow_up_times(times, time: np.ndarray) -> np.ndarray:
    if times is None or np.size(times) == 0:
        raise InputError("times: expected at least one evaluation time")
    times = np.unique(scores(np.atleast_1d(times), name="times"))
    if times.min() < time.min() or times.max() >= time.max():
        raise InputError(f"times: every time must be within the follow-up of the test set, "
                         f"[{time.min():g}, {time.max():g})")
    return times


def cumulative_dynamic_auc(risk, time, event, *, times, tied_tol: float = 1e-8, weights=None):
    """Cumulative/dynamic time-dependent AUC (Uno et al. 2007; Hung & Chiang 2010) at each t of
    ``times``: cases are the events with t_i ≤ t, weighted 1/Ĝ(t_i), controls the cases with
    t_j > t,

        AUC(t) = Σ_{case i} Σ_{control j} w_i w_j Ĝ(t_i)⁻¹ (1[r_i > r_j] + ½·1[r_i ≈ r_j])
                 / (Σ_{case} w_i Ĝ(t_i)⁻¹ · Σ_{control} w_j),

    ties chained within ``tied_tol``; the mean AUC is Σ_k AUC(t_k)(Ŝ(t_{k−1}) − Ŝ(t_k)) /
    (1 − Ŝ(t_last)), Ŝ the Kaplan–Meier survival of the test set, Ŝ(t_0) = 1 (the AUC itself
    with one time). Equal to ``sksurv.metrics.cumulative_dynamic_auc(y, y, risk, times)``.
    ``times`` are sorted and deduplicated and must lie in [min time, max time) of the test set
    (InputError otherwise). Returns ``(auc, mean)``: (T,) and a float, or (B, T) and (B,);
    NaN where a resample has no case or no control at a time."""
    auc, mean = cumulative_dynamic_auc_many([risk], time, event, times=times,
                                            tied_tol=tied_tol, weights=weights)
    return auc[..., 0, :], _first(mean)


def cumulative_dynamic_auc_many(risks, time, event, *, times, tied_tol: float = 1e-8,
                                weights=None):
    """:func:`cumulative_dynamic_auc` of K risk vectors: AUC (K, T) and mean (K,), or (B, K, T)
    and (B, K); Ĝ and Ŝ are computed once for all K."""
    risks, truth, batched = _stacked(risks, time, event, weights)
    times = _follow_up_times(times, truth.time)
    time, event, w = truth.time, truth.event, truth.w
    with np.errstate(divide="ignore"):
        ipcw = np.where(event, 1.0 / truth.censoring_at_cases, 0.0)
    cases, controls = [], []
    for t in times:
        case = event & (time <= t)
        with np.errstate(invalid="ignore"):  # Ĝ = 0: an infinite weight, of a case not drawn
            cases.append(np.where(case & (w > 0), w * ipcw, 0.0))
        controls.append(w * (time > t))
    auc = np.empty((len(w), len(risks), len(times)))
    for k, risk in enumerate(risks):
        groups = tie_groups(risk, tied_tol)
        for m in range(len(times)):
            concordant, pairs = pair_concordance(risk, cases[m], controls[m], groups=groups)
            with np.errstate(invalid="ignore"):
                auc[:, k, m] = ratio(concordant, pairs)
    if len(times) == 1:
        mean = auc[:, :, 0]
    else:
        surviving = truth.step_at(truth.kaplan_meier(reverse=False), times)
        drop = -np.diff(np.concatenate([np.ones((len(w), 1)), surviving], axis=1), axis=1)
        mean = ratio((auc * drop[:, None, :]).sum(axis=2), 1.0 - surviving[:, -1:])
    return (auc, mean) if batched else (auc[0], mean[0])


def integrated_brier(surv_prob, time, event, *, times, weights=None):
    """Integrated Brier score (Graf et al. 1999) of predicted survival probabilities
    ``surv_prob[i, k]`` = Ŝ_i(t_k) at the strictly increasing ``times`` (T ≥ 2, within
    [min time, max time) of the test set):

        BS(t) = Σ_i w_i [Ŝ_i(t)² 1[t_i ≤ t, event] / Ĝ(t_i) + (1 − Ŝ_i(t))² 1[t_i > t] / Ĝ(t)]
                / Σ_i w_i,
        IBS = ∫ BS(t) dt / (t_last − t_first)   (trapezoidal rule over ``times``),

    Ĝ the censoring Kaplan–Meier of the test set (a zero Ĝ counts as an infinite weight's
    reciprocal, 0, as scikit-survival). Equal to ``sksurv.metrics.integrated_brier_score(y, y,
    surv_prob, times)``. Smaller is better."""
    return _first(integrated_brier_many([surv_prob], time, event, times=times, weights=weights))


def integrated_brier_many(surv_probs, time, event, *, times, weights=None):
    """:func:`integrated_brier` of K survival matrices (each (n, T)): (K,) or (B, K); Ĝ is
    computed once for all K."""
    if len(surv_probs) == 0:
        raise InputError("survival: expected at least one prediction")
    curves = [probabilities(c, name="survival", ndim=2) for c in surv_probs]
    _, truth, batched = _inputs(curves[0], time, event, weights, name="survival")
    if times is None or np.size(times) < 2:
        raise InputError("times: expected at least two strictly increasing times")
    times = scores(np.atleast_1d(times), name="times")
    if len(times) < 2 or (np.diff(times) <= 0).any():
        raise InputError("times: expected at least two strictly increasing times")
    for curve in curves:
        if curve.shape != (len(truth.time), len(times)):
            raise InputError(f"survival: expected {len(truth.time)} rows and {len(times)} "
                             f"columns, one per time, got {curve.shape}")
    _follow_up_times(times, truth.time)
    time, event, w = truth.time, truth.event, truth.w
    at_case = np.where(truth.censoring_at_cases == 0, np.inf, truth.censoring_at_cases)
    at_time = truth.step_at(truth.censoring, times)
    at_time = np.where(at_time == 0, np.inf, at_time)
    total = w.sum(axis=1)
    values = np.empty((len(w), len(curves)))
    for k, curve in enumerate(curves):
        brier = np.empty((len(w), len(times)))
        for m, t in enumerate(times):
            predicted = curve[:, m]
            loss = (predicted**2 * (event & (time <= t)) / at_case
                    + (1.0 - predicted) ** 2 * (time > t) / at_time[:, m:m + 1])
            brier[:, m] = ratio((w * loss).sum(axis=1), total)
        values[:, k] = np.trapezoid(brier, times, axis=1) / (times[-1] - times[0])
    return _many(values, batched)
