import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

from leaderboard.stats.bootstrap import bootstrap_table, bootstrap_task, kendall_tau_b
from leaderboard.stats.errors import DroppedCasesWarning, StatsInputError
from leaderboard.stats.methods import RankingConfig
from leaderboard.stats.registry import method_names
from leaderboard.stats.resamples import ResampleTable
from leaderboard.stats.table import ScoreTable, task_matrices
from tests.leaderboard.stats.examples import CASES, example_table
from tests.leaderboard.stats.test_methods import random_rows, reference_ranking, to_table

METHODS = method_names()  # every built-in method is checked against the reference


def samples_of(draws_per_boot, task="T"):
    rows = [
        (task, b + 1, d + 1, case)
        for b, draws in enumerate(draws_per_boot)
        for d, case in enumerate(draws)
    ]
    return ResampleTable.from_columns(
        task=[r[0] for r in rows],
        boot=[r[1] for r in rows],
        draw=[r[2] for r in rows],
        case=[r[3] for r in rows],
    )


def slow_bootstrap(rows, draws_per_boot, method, *, compat, **options):
    """One reference ranking per resample, on rows copied draw by draw: standard semantics
    give every copy its own case id, challengeR's keep the original id."""
    results = []
    for draws in draws_per_boot:
        copied = [
            (case if compat else f"{case}#{d}", algorithm, value)
            for d, case in enumerate(draws)
            for c, algorithm, value in rows
            if c == case
        ]
        results.append(reference_ranking(copied, method, **options))
    return results


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(METHODS),
    st.sampled_from(["worst", "drop", 0.0]),
    st.sampled_from(["min", "average"]),
    st.booleans(),
    st.booleans(),
)
def test_explicit_resamples_equal_a_loop_per_resample(seed, method, na, ties, larger, compat):
    rng = np.random.default_rng(seed)
    rows = random_rows(rng, k=4, n=9, missing=0.1)
    cases = sorted({c for c, _, _ in rows})
    draws = [list(rng.choice(cases, size=9)) for _ in range(4)]
    config = RankingConfig(method=method, na=na, ties=ties, larger_better=larger)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedCasesWarning)
        (result,) = bootstrap_table(
            to_table(rows),
            config,
            samples=samples_of(draws),
            compat="challengeR" if compat else None,
        )
        expected = slow_bootstrap(
            rows, draws, method, compat=compat, na=na, larger_better=larger, ties=ties
        )
    for b, (scores, ranks) in enumerate(expected):
        np.testing.assert_allclose(result.scores[b], scores, rtol=1e-12, atol=1e-12)
        assert result.ranks[b].tolist() == ranks


def test_explicit_resamples_are_deterministic():
    draws = [["c1", "c1", "c3", "c4", "c6", "c6"], ["c2", "c3", "c3", "c3", "c5", "c6"]]
    config = RankingConfig(method="test-then-rank")
    first = bootstrap_table(example_table(), config, samples=samples_of(draws))[0]
    second = bootstrap_table(example_table(), config, samples=samples_of(draws))[0]
    np.testing.assert_array_equal(first.ranks, second.ranks)
    np.testing.assert_array_equal(first.scores, second.scores)


def test_every_case_twice_counts_twice_by_default_and_once_under_challenger():
    # doubled, A vs C reaches p = 0.015 (T⁺ = 67 of N = 12) and A beats both others; challengeR
    # tests the distinct cases only, as on the original data, where A beats B alone.
    draws = [[case for case in CASES for _ in range(2)]]
    config = RankingConfig(method="test-then-rank")
    standard = bootstrap_table(example_table(), config, samples=samples_of(draws))[0]
    compat = bootstrap_table(
        example_table(), config, samples=samples_of(draws), compat="challengeR"
    )[0]
    assert standard.scores[0].tolist() == [1.0, 0.0, 0.0]
    assert compat.scores[0].tolist() == [0.5, 0.0, 0.0]


def test_challenger_ranks_the_copies_of_a_case_jointly():
    # c1 drawn twice: its six rows (A 91 91, B 88 88, C 80 80) get ranks 1 1 3 3 5 5 under one
    # case id, while standard semantics give each copy the per-case ranks 1, 2, 3.
    draws = [["c1", "c1", "c2"]]
    config = RankingConfig(method="rank-then-aggregate")
    standard = bootstrap_table(example_table(), config, samples=samples_of(draws))[0]
    compat = bootstrap_table(
        example_table(), config, samples=samples_of(draws), compat="challengeR"
    )[0]
    # c2: C 1, A 2, B 3
    np.testing.assert_allclose(standard.scores[0], [4 / 3, 7 / 3, 7 / 3])
    np.testing.assert_allclose(compat.scores[0], [4 / 3, 9 / 3, 11 / 3])
    assert standard.ranks[0].tolist() == [1, 2, 2]
    assert compat.ranks[0].tolist() == [1, 2, 3]


def test_seeded_draws_are_reproducible_and_depend_on_the_seed():
    config = RankingConfig(method="aggregate-mean")
    one = bootstrap_table(example_table(), config, n_boot=50, seed=11)[0]
    again = bootstrap_table(example_table(), config, n_boot=50, seed=11)[0]
    other = bootstrap_table(example_table(), config, n_boot=50, seed=12)[0]
    np.testing.assert_array_equal(one.scores, again.scores)
    assert not np.array_equal(one.scores, other.scores)
    assert one.boot.tolist() == list(range(1, 51))


def test_a_tasks_resamples_do_not_depend_on_the_other_tasks():
    config = RankingConfig(method="aggregate-mean")
    alone = bootstrap_table(example_table(task="T2"), config, n_boot=20, seed=5)[0]
    tables = [example_table(task="T1"), example_table(task="T2")]
    combined = ScoreTable.from_columns(
        **{
            name: np.concatenate([getattr(t, name) for t in tables]).tolist()
            for name in ("task", "case", "algorithm", "value")
        }
    )
    together = bootstrap_table(combined, config, n_boot=20, seed=5)[1]
    assert together.task == "T2"
    np.testing.assert_array_equal(alone.scores, together.scores)


def test_the_drawn_resamples_written_out_reproduce_the_run():
    config = RankingConfig(method="rank-then-aggregate")
    drawn = bootstrap_table(example_table(), config, n_boot=30, seed=3)[0]
    replay = bootstrap_table(example_table(), config, samples=drawn.samples)[0]
    np.testing.assert_array_equal(drawn.ranks, replay.ranks)
    np.testing.assert_array_equal(drawn.tau, replay.tau)


def test_kendall_tau_b_matches_scipy_with_ties():
    rng = np.random.default_rng(4)
    reference = np.array([1, 2, 2, 4, 5, 5, 7.0])
    rankings = rng.integers(1, 5, size=(30, 7)).astype(float)
    expected = [kendalltau(reference, r).statistic for r in rankings]
    np.testing.assert_allclose(kendall_tau_b(reference, rankings), expected, rtol=1e-12)


def test_kendall_tau_b_is_nan_without_variability():
    assert np.isnan(kendall_tau_b(np.array([1.0, 2.0]), np.array([[1.0, 1.0]]))[0])


def test_summary_statistics_of_the_bootstrap_ranks():
    config = RankingConfig(method="aggregate-mean")
    result = bootstrap_table(example_table(), config, n_boot=200, seed=1)[0]
    summary = result.summary()
    np.testing.assert_array_equal(summary.mean_rank, result.ranks.mean(axis=0))
    np.testing.assert_array_equal(summary.median_rank, np.median(result.ranks, axis=0))
    np.testing.assert_array_equal(summary.q025, np.quantile(result.ranks, 0.025, axis=0))
    np.testing.assert_allclose(summary.p_rank.sum(axis=1), 1.0)
    for k in range(3):
        for r in range(3):
            assert summary.p_rank[k, r] == np.mean(result.ranks[:, k] == r + 1)
    # the metric aggregate of aggregate-mean is its score
    np.testing.assert_array_equal(summary.aggregate_q975, np.quantile(result.scores, 0.975, axis=0))
    assert summary.aggregate == "mean"
    np.testing.assert_allclose(summary.aggregate_value, [496 / 6, 80.0, 77.5])
    columns = list(summary.records()[0])
    assert columns == [
        "task",
        "algorithm",
        "full_rank",
        "mean_rank",
        "median_rank",
        "q025",
        "q975",
        "p_rank1",
        "p_rank2",
        "p_rank3",
    ]


def test_median_interval_is_taken_from_the_median_method():
    config = RankingConfig(method="aggregate-median")
    result = bootstrap_table(example_table(), config, n_boot=20, seed=1)[0]
    assert result.aggregate == "median"
    np.testing.assert_array_equal(result.aggregates, result.scores)


@pytest.mark.parametrize(
    ("draws", "message"),
    [([["c1", "zz"]], "no case zz"), ([["c1"]], None)],
)
def test_resample_tables_are_validated(draws, message):
    (matrix,) = task_matrices(example_table()).values()
    config = RankingConfig(method="aggregate-mean")
    if message:
        with pytest.raises(StatsInputError, match=message):
            bootstrap_task(matrix, config, samples=samples_of(draws))
    else:
        assert bootstrap_task(matrix, config, samples=samples_of(draws)).scores.shape == (1, 3)


def test_resample_table_errors():
    config = RankingConfig(method="aggregate-mean")
    with pytest.raises(StatsInputError, match="task U is not in the data"):
        bootstrap_table(example_table(), config, samples=samples_of([["c1"]], task="U"))
    (matrix,) = task_matrices(example_table()).values()
    with pytest.raises(StatsInputError, match="no resamples for task T"):
        bootstrap_task(matrix, config, samples=samples_of([["c1"]], task="U"))
    repeated = ResampleTable.from_columns(
        task=["T", "T"], boot=[1, 1], draw=[1, 1], case=["c1", "c2"]
    )
    with pytest.raises(StatsInputError, match="repeats"):
        bootstrap_table(example_table(), config, samples=repeated)
    with pytest.raises(StatsInputError, match="integer"):
        ResampleTable.from_columns(task=["T"], boot=["one"], draw=[1], case=["c1"])
    with pytest.raises(StatsInputError, match="seed"):
        bootstrap_table(example_table(), config)
    with pytest.raises(StatsInputError, match="compat"):
        bootstrap_table(example_table(), config, seed=1, compat="R")
