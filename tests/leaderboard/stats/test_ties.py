import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaderboard.stats.errors import StatsInputError
from leaderboard.stats.ties import rank_order, rank_scores
from tests.leaderboard.stats.reference import rank_na2


def test_competition_ranking_gives_tied_scores_the_best_rank_and_skips():
    scores = np.array([0.9, 0.5, 0.5, 0.1])
    assert rank_scores(scores, larger_better=True).tolist() == [1, 2, 2, 4]


def test_average_ranking_shares_the_positions_of_a_tie():
    scores = np.array([0.9, 0.5, 0.5, 0.1])
    assert rank_scores(scores, larger_better=True, ties="average").tolist() == [1, 2.5, 2.5, 4]


def test_smaller_better_reverses_the_order():
    assert rank_scores(np.array([3.0, 1.0, 2.0]), larger_better=False).tolist() == [3, 1, 2]


def test_missing_scores_follow_challengers_rank_na2():
    # rankNA2: the largest present rank is 2 (a tie at 2), so missing values get 2 + 1 = 3
    # with "min", and 2.5 + mean(1:2) = 4 with "average" (the present ranks are 1, 2.5, 2.5).
    scores = np.array([0.9, 0.5, 0.5, np.nan])
    assert rank_scores(scores, larger_better=True).tolist() == [1, 2, 2, 3]
    with_two = np.array([0.9, 0.5, 0.5, np.nan, np.nan])
    assert rank_scores(with_two, larger_better=True, ties="average").tolist() == [1, 2.5, 2.5, 4, 4]


def test_all_missing_scores_tie_at_the_top():
    assert rank_scores(np.array([np.nan, np.nan]), larger_better=True).tolist() == [1, 1]
    average = rank_scores(np.array([np.nan, np.nan, np.nan]), larger_better=True, ties="average")
    assert average.tolist() == [2, 2, 2]


def test_infinities_are_extreme_scores_that_tie_with_each_other():
    scores = np.array([-np.inf, 0.3, -np.inf, 0.7])
    assert rank_scores(scores, larger_better=True).tolist() == [3, 2, 3, 1]


def test_summation_noise_does_not_break_a_tie_but_exact_ranking_does():
    a, b = 0.1 + 0.2, 0.3  # differ in the last bit
    assert rank_scores(np.array([a, b]), larger_better=True).tolist() == [1, 1]
    assert rank_scores(np.array([a, b]), larger_better=True, rel_tol=0).tolist() == [1, 2]


def test_ranks_along_the_last_axis_of_a_matrix():
    scores = np.array([[1.0, 2.0, 3.0], [3.0, 3.0, 1.0]])
    assert rank_scores(scores, larger_better=True).tolist() == [[3, 2, 1], [1, 1, 3]]


def test_unknown_tie_rule_is_rejected():
    with pytest.raises(StatsInputError, match="ties"):
        rank_scores(np.array([1.0]), larger_better=True, ties="dense")


def test_rank_order_breaks_ties_by_name():
    assert rank_order(np.array([2.0, 1.0, 1.0]), ("c", "b", "a")) == [2, 1, 0]


values = st.lists(
    st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(-5, 5), st.just(math.nan)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(values, st.booleans(), st.sampled_from(["min", "average"]))
def test_agrees_with_a_loop_implementation_of_rank_na2(scores, larger_better, ties):
    expected = rank_na2(scores, larger_better=larger_better, ties=ties)
    got = rank_scores(np.array(scores), larger_better=larger_better, ties=ties, rel_tol=0)
    assert got.tolist() == expected


def test_the_tie_tolerance_is_relative_to_each_pair_not_to_the_largest_score():
    # A huge fill value must not tie two distinct small means (challengeR compares exactly).
    ranks = rank_scores(np.array([1e6, 1.0, 1.0000001]), larger_better=False)
    assert ranks.tolist() == [3.0, 1.0, 2.0]
    # ... while sums that differ only in their last bits still tie.
    a = sum([0.1, 0.2, 0.3])
    b = sum([0.3, 0.2, 0.1])
    assert a != b
    assert rank_scores(np.array([a, b, 0.0]), larger_better=True).tolist() == [1.0, 1.0, 3.0]
