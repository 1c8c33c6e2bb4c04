"""Survival metrics against lifelines 0.30 and scikit-survival 0.28 on random test sets with
tied times and risks and heavy censoring, with case multiplicities checked against the same
cases repeated."""

import numpy as np
import pytest
from lifelines.utils import concordance_index
from sksurv import metrics as sks
from sksurv.util import Surv

from scorers import survival
from tests.scorers.clinical_cases import expand, survival_case

TOL = 1e-9
CENSORING = [0.3, 0.7, 0.9]


def _case(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 300))
    return survival_case(rng, n, censored=CENSORING[seed % 3],
                         time_levels=int(rng.integers(5, 60)))


@pytest.mark.parametrize("seed", range(24))
def test_harrell_equals_lifelines(seed):
    risk, time, event, weights = _case(seed)
    expected = concordance_index(time, -risk, event)
    assert survival.harrell_c(risk, time, event) == pytest.approx(expected, abs=TOL)
    index = expand(weights)
    expected = concordance_index(time[index], -risk[index], event[index])
    assert survival.harrell_c(risk, time, event, weights=weights) == pytest.approx(expected,
                                                                                   abs=TOL)


@pytest.mark.parametrize("seed", range(24))
def test_uno_equals_scikit_survival(seed):
    risk, time, event, weights = _case(seed)
    tau = float(np.quantile(time, [0.3, 0.6, 0.95][seed % 3]))
    for w in (None, weights):
        index = np.arange(len(time)) if w is None else expand(w)
        y = Surv.from_arrays(event[index].astype(bool), time[index])
        expected = sks.concordance_index_ipcw(y, y, risk[index], tau)[0]
        assert survival.uno_c(risk, time, event, tau=tau, weights=w) == pytest.approx(
            expected, abs=TOL, nan_ok=True)


@pytest.mark.parametrize("seed", range(24))
def test_time_dependent_auc_equals_scikit_survival(seed):
    risk, time, event, weights = _case(seed)
    events = time[event == 1]
    times = np.unique(np.quantile(events, [0.2, 0.5, 0.8][: 1 + seed % 3]))
    for w in (None, weights):
        index = np.arange(len(time)) if w is None else expand(w)
        y = Surv.from_arrays(event[index].astype(bool), time[index])
        expected_auc, expected_mean = sks.cumulative_dynamic_auc(y, y, risk[index], times)
        auc, mean = survival.cumulative_dynamic_auc(risk, time, event, times=times, weights=w)
        np.testing.assert_allclose(auc, expected_auc, rtol=0, atol=TOL)
        assert mean == pytest.approx(expected_mean, abs=TOL)


@pytest.mark.parametrize("seed", range(24))
def test_integrated_brier_equals_scikit_survival(seed):
    _, time, event, weights = _case(seed)
    rng = np.random.default_rng(seed)
    times = np.unique(np.linspace(time.min(), np.quantile(time, 0.9), 2 + seed % 5))
    curves = np.sort(np.round(rng.random((len(time), len(times))), 1), axis=1)[:, ::-1]
    for w in (None, weights):
        index = np.arange(len(time)) if w is None else expand(w)
        y = Surv.from_arrays(event[index].astype(bool), time[index])
        expected = sks.integrated_brier_score(y, y, curves[index], times)
        value = survival.integrated_brier(curves, time, event, times=times, weights=w)
        assert value == pytest.approx(expected, abs=TOL)


def test_multiplicities_equal_repeated_cases_for_every_resample():
    risk, time, event, _ = _case(5)
    rng = np.random.default_rng(3)
    n = len(time)
    resamples = rng.multinomial(n, np.full(n, 1 / n), size=30).astype(float)
    times = np.quantile(time[event == 1], [0.25, 0.5])
    curves = np.sort(rng.random((n, 2)), axis=1)[:, ::-1]
    batched = {
        "harrell": survival.harrell_c(risk, time, event, weights=resamples),
        "uno": survival.uno_c(risk, time, event, tau=float(np.median(time)), weights=resamples),
        "td_auc": survival.cumulative_dynamic_auc(risk, time, event, times=times,
                                                  weights=resamples)[1],
        "ibs": survival.integrated_brier(curves, time, event, times=times, weights=resamples),
    }
    for b, counts in enumerate(resamples):
        i = expand(counts)
        repeated = {
            "harrell": survival.harrell_c(risk[i], time[i], event[i]),
            "uno": survival.uno_c(risk[i], time[i], event[i], tau=float(np.median(time))),
            "td_auc": _td_auc_or_nan(risk[i], time[i], event[i], times),
            "ibs": _ibs_or_nan(curves[i], time[i], event[i], times),
        }
        for name, values in batched.items():
            assert values.shape == (30,)
            if not np.isnan(repeated[name]):
                assert values[b] == pytest.approx(repeated[name], abs=TOL), name


def _td_auc_or_nan(risk, time, event, times):
    try:
        return survival.cumulative_dynamic_auc(risk, time, event, times=times)[1]
    except ValueError:  # times beyond this resample's follow-up
        return np.nan


def _ibs_or_nan(curves, time, event, times):
    try:
        return survival.integrated_brier(curves, time, event, times=times)
    except ValueError:
        return np.nan


def test_tied_times_follow_lifelines():
    # two events at time 2 are not compared; an event and a censoring at 2 are
    time = np.array([2.0, 2.0, 2.0, 5.0])
    event = np.array([1, 1, 0, 1])
    risk = np.array([1.0, 3.0, 2.0, 0.0])
    # pairs: (0,2) discordant, (1,2) concordant, (0,3), (1,3) concordant
    assert survival.harrell_c(risk, time, event) == 0.75
    assert concordance_index(time, -risk, event) == 0.75
    assert survival.harrell_c([1.0, 1.0, 0.0, 0.0], time, event) == pytest.approx(
        concordance_index(time, -np.array([1.0, 1.0, 0.0, 0.0]), event))


def test_undefined_concordance_is_nan():
    assert np.isnan(survival.harrell_c([1, 2, 3], [1, 2, 3], [0, 0, 0]))
    with pytest.raises(ZeroDivisionError):
        concordance_index([1, 2, 3], [1, 2, 3], [0, 0, 0])
    values = survival.harrell_c([3, 2, 1], [1, 2, 3], [1, 0, 0], weights=[[1, 1, 1], [0, 1, 1]])
    assert values[0] == 1.0 and np.isnan(values[1])


def test_uno_is_nan_where_the_censoring_curve_reaches_zero():
    time, event, risk = np.array([1.0, 2, 3, 3]), np.array([1, 0, 1, 0]), np.array([3.0, 2, 1, 0])
    y = Surv.from_arrays(event.astype(bool), time)
    with pytest.raises(ValueError, match="censoring survival function is zero"):
        sks.concordance_index_ipcw(y, y, risk, 10.0)
    assert np.isnan(survival.uno_c(risk, time, event, tau=10.0))
    assert survival.uno_c(risk, time, event, tau=2.5) == pytest.approx(
        sks.concordance_index_ipcw(y, y, risk, 2.5)[0])


def test_uno_ties_within_tolerance_count_half():
    time, event = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 1, 1, 0])
    risk = np.array([1.0, 1.0 + 1e-9, 0.5, 0.0])
    y = Surv.from_arrays(event.astype(bool), time)
    expected = sks.concordance_index_ipcw(y, y, risk, 5.0)[0]
    assert survival.uno_c(risk, time, event, tau=5.0) == pytest.approx(expected, abs=TOL)
    assert survival.harrell_c(risk, time, event) == pytest.approx(5 / 6)  # exact ties only


def test_fractional_weights_take_the_float64_path_and_agree():
    risk, time, event, weights = _case(2)
    whole = survival.harrell_c(risk, time, event, weights=weights)
    assert survival.harrell_c(risk, time, event, weights=weights * 0.5) == pytest.approx(
        whole, abs=1e-12)
    uno = survival.uno_c(risk, time, event, tau=20.0, weights=weights)
    assert survival.uno_c(risk, time, event, tau=20.0, weights=weights / 3) == pytest.approx(
        uno, abs=1e-12)
