"""The fast paths against the implementations they replaced (tests/leaderboard/stats/
pairwise_reference.py), on random data full of what breaks rank statistics: ties, zero
differences, missing and infinite values. They must agree to the last bit; 1e-12 is the
tolerance the brief states, equality is what the exact integer counts promise."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from leaderboard.stats.bootstrap import _rank_shares, kendall_tau_b
from leaderboard.stats.ties import rank_scores
from leaderboard.stats.wilcoxon import _distinct_case_pvalues, signed_rank_pvalues
from tests.leaderboard.stats import pairwise_reference as reference


def assert_identical(fast, slow):
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(fast, slow)  # NaN where NaN, and the same bits elsewhere


def tied_values(rng, k, n, *, levels=6):
    """Scores on few levels (ties and zero differences everywhere), some missing, some −inf
    (a missing value under "worst"), some +inf."""
    values = rng.integers(0, levels, size=(k, n)) / levels
    cell = rng.random((k, n))
    values[cell < 0.05] = np.nan
    values[(cell >= 0.05) & (cell < 0.08)] = -np.inf
    values[(cell >= 0.08) & (cell < 0.09)] = np.inf
    return values


@pytest.mark.parametrize("k", [2, 3, 7, 16])
def test_wilcoxon_on_the_full_data_equals_the_pairwise_engine_for_2_to_60_cases(k):
    rng = np.random.default_rng(k)
    for n in range(2, 61):
        values = tied_values(rng, k, n, levels=int(rng.integers(2, 12)))
        assert_identical(_distinct_case_pvalues(values), reference.signed_rank_pvalues(values))


def test_wilcoxon_with_distinct_continuous_values_equals_the_pairwise_engine():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(40, 25))
    assert_identical(signed_rank_pvalues(values), reference.signed_rank_pvalues(values))


def test_a_single_resample_drawing_cases_at_most_once_leaves_the_others_out():
    rng = np.random.default_rng(2)
    values = tied_values(rng, 9, 45)
    counts = (rng.random((1, 45)) < 0.6).astype(float)
    fast = signed_rank_pvalues(values, counts)
    assert_identical(fast, reference.signed_rank_pvalues(values, counts))
    assert_identical(fast, _distinct_case_pvalues(values[:, counts[0] > 0]))


def test_resamples_with_repeated_cases_still_equal_the_pairwise_engine():
    rng = np.random.default_rng(3)
    values = tied_values(rng, 6, 30)
    for counts in (rng.integers(0, 3, size=(1, 30)), rng.multinomial(30, [1 / 30] * 30, size=4)):
        counts = counts.astype(float)
        assert_identical(signed_rank_pvalues(values, counts),
                         reference.signed_rank_pvalues(values, counts))


def test_no_case_left_gives_p_one_for_every_pair_as_r_does():
    p = signed_rank_pvalues(np.empty((3, 0)))
    off = ~np.eye(3, dtype=bool)
    assert (p[0][off] == 1.0).all() and np.isnan(np.diag(p[0])).all()
    assert_identical(p, reference.signed_rank_pvalues(np.empty((3, 0))))


def test_many_pairs_are_split_into_blocks_without_changing_anything():
    rng = np.random.default_rng(4)
    values = tied_values(rng, 90, 20)  # 4005 pairs × 20 cases: five blocks of 819 pairs
    assert_identical(signed_rank_pvalues(values), reference.signed_rank_pvalues(values))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(2, 5), st.integers(1, 12)),
               elements=st.sampled_from([0.0, 0.25, 0.5, 1.0, 3.0, np.nan, -np.inf, np.inf]))
)
def test_property_wilcoxon_fast_path_equals_the_pairwise_engine(values):
    assert_identical(signed_rank_pvalues(values), reference.signed_rank_pvalues(values))


def random_rankings(rng, b, k, ties):
    scores = rng.integers(0, max(2, k // 2), size=(b, k)).astype(float)
    return rank_scores(scores, larger_better=True, ties=ties)


@pytest.mark.parametrize("ties", ["min", "average"])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 12, 37, 60])
def test_kendall_tau_b_equals_the_pairwise_sum(k, ties):
    rng = np.random.default_rng(k)
    rankings = random_rankings(rng, 300, k, ties)
    full = random_rankings(rng, 1, k, ties)[0]
    assert_identical(kendall_tau_b(full, rankings), reference.kendall_tau_b(full, rankings))
    assert_identical(kendall_tau_b(rankings[0], rankings),
                     reference.kendall_tau_b(rankings[0], rankings))


def test_kendall_tau_b_at_five_hundred_algorithms_equals_the_pairwise_sum():
    rng = np.random.default_rng(5)
    rankings = random_rankings(rng, 40, 500, "min")
    full = rank_scores(rng.normal(size=500), larger_better=True)
    assert_identical(kendall_tau_b(full, rankings), reference.kendall_tau_b(full, rankings))


def test_kendall_tau_b_on_arbitrary_numbers_equals_the_pairwise_sum():
    rng = np.random.default_rng(6)
    rankings = rng.normal(size=(1500, 40)) * 1e6  # the first block of 1024 rankings holds
    rankings[1100:] = rankings[1100:].round(-6)  # 40,960 distinct values (64-bit codes); the
    full = rng.normal(size=40).round(1)  # second has rows full of ties
    assert_identical(kendall_tau_b(full, rankings), reference.kendall_tau_b(full, rankings))


def test_kendall_tau_b_is_nan_for_a_ranking_with_nan_and_everywhere_for_a_nan_reference():
    rankings = np.array([[1.0, 2.0, 3.0], [1.0, np.nan, 3.0], [3.0, 2.0, 1.0]])
    taus = kendall_tau_b(np.array([1.0, 2.0, 3.0]), rankings)
    assert taus[0] == 1.0 and np.isnan(taus[1]) and taus[2] == -1.0
    assert np.isnan(kendall_tau_b(np.array([1.0, np.nan, 3.0]), rankings)).all()
    assert kendall_tau_b(np.array([1.0, 2.0]), np.empty((0, 2))).shape == (0,)


@pytest.mark.parametrize("ties", ["min", "average"])
def test_rank_shares_count_what_the_broadcast_comparison_counted(ties):
    rng = np.random.default_rng(7)
    ranks = random_rankings(rng, 250, 9, ties)
    ranks[3, 2] = np.nan
    expected = (ranks[:, :, None] == np.arange(1, 10)).mean(axis=0)
    assert_identical(_rank_shares(ranks, 9), expected)
