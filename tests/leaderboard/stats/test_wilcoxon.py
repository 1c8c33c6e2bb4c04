import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from leaderboard.stats.wilcoxon import signed_rank_pvalues
from tests.leaderboard.stats.reference import wilcoxon_greater


def expanded_reference(values, counts):
    """p[b, i, j] from scipy on the values repeated counts[b] times."""
    b_count, k = counts.shape[0], values.shape[0]
    expected = np.full((b_count, k, k), np.nan)
    for b in range(b_count):
        repeated = np.repeat(values, counts[b].astype(int), axis=1)
        for i in range(k):
            for j in range(k):
                if i != j:
                    expected[b, i, j] = wilcoxon_greater(repeated[i], repeated[j])
    return expected


def test_worked_example_matches_the_hand_computation():
    # d = A − B = 3, 4, 1, 4, 5, −1: |d| ranks 4.5·2 + 3 + 6 + 1.5 for the positives → T⁺ = 19.5,
    # two tie pairs → σ² = 6·7·13/24 − (6 + 6)/48 = 22.5; z = (19.5 − 10.5 − 0.5)/√22.5 = 1.792.
    a = [91, 82, 86, 74, 95, 68]
    b = [88, 78, 85, 70, 90, 69]
    p = signed_rank_pvalues(np.array([a, b], dtype=float))
    assert p[0, 0, 1] == pytest.approx(0.036570, abs=1e-6)
    assert np.isnan(p[0, 0, 0])


def test_agrees_with_scipy_on_continuous_data_with_resamples():
    rng = np.random.default_rng(7)
    values = rng.normal(size=(4, 40)) + np.arange(4)[:, None] * 0.2
    counts = rng.multinomial(40, np.full(40, 1 / 40), size=3).astype(float)
    np.testing.assert_allclose(
        signed_rank_pvalues(values, counts), expanded_reference(values, counts), rtol=1e-12
    )


def test_agrees_with_scipy_when_many_cases_tie_and_many_differences_are_zero():
    rng = np.random.default_rng(8)
    values = rng.integers(0, 4, size=(5, 60)).astype(float)  # heavy ties, many zero differences
    counts = rng.integers(0, 3, size=(4, 60)).astype(float)
    np.testing.assert_allclose(
        signed_rank_pvalues(values, counts), expanded_reference(values, counts), rtol=1e-12
    )


def test_more_than_five_thousand_draws_switch_to_double_precision_and_stay_exact():
    rng = np.random.default_rng(9)
    values = rng.normal(size=(2, 30))
    counts = rng.integers(150, 250, size=(1, 30)).astype(float)  # about 6000 draws
    np.testing.assert_allclose(
        signed_rank_pvalues(values, counts), expanded_reference(values, counts), rtol=1e-10
    )


def test_many_pairs_on_many_cases_stay_exact():
    # one batch of 64 pairs on 1500 cases: running sums across the batch exceed float32's
    # exact integers, which must not leak into T⁺
    rng = np.random.default_rng(10)
    values = rng.normal(size=(12, 1500)) + np.linspace(0, 0.3, 12)[:, None]
    expected = expanded_reference(values, np.ones((1, 1500)))
    np.testing.assert_allclose(signed_rank_pvalues(values), expected, rtol=1e-9, atol=1e-300)


def test_no_difference_left_gives_p_one_as_r_does():
    values = np.array([[0.5, 0.7, np.nan], [0.5, 0.7, 0.2]])
    p = signed_rank_pvalues(values)
    assert p[0, 0, 1] == 1.0 and p[0, 1, 0] == 1.0


def test_missing_cases_leave_the_pairs_they_are_in():
    values = np.array([[0.9, 0.8, 0.7, np.nan, 0.6], [0.1, 0.2, 0.3, 0.4, 0.5]])
    p = signed_rank_pvalues(values)
    assert p[0, 0, 1] == pytest.approx(wilcoxon_greater([0.9, 0.8, 0.7, 0.6], [0.1, 0.2, 0.3, 0.5]))


def test_infinite_values_rank_as_the_largest_differences():
    values = np.array([[-np.inf, 0.9, 0.8, 0.7], [0.5, 0.4, -np.inf, 0.3]])
    p = signed_rank_pvalues(values)
    assert p[0, 0, 1] == pytest.approx(wilcoxon_greater(values[0], values[1]))
    assert p[0, 1, 0] == pytest.approx(wilcoxon_greater(values[1], values[0]))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(2, 4), st.integers(1, 12)),
        elements=st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, -1.0, np.nan]),
    ),
    st.data(),
)
def test_property_agrees_with_scipy_on_repeated_values(values, data):
    counts = data.draw(hnp.arrays(np.int64, (2, values.shape[1]), elements=st.integers(0, 3)))
    counts = counts.astype(float)
    np.testing.assert_allclose(
        signed_rank_pvalues(values, counts), expanded_reference(values, counts), rtol=1e-12
    )
