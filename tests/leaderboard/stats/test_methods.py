import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaderboard.stats.errors import DroppedCasesWarning, StatsInputError
from leaderboard.stats.methods import RankingConfig, adjust_pvalues, rank_table, significance
from leaderboard.stats.table import ScoreTable, task_matrices
from tests.leaderboard.stats import reference
from tests.leaderboard.stats.examples import example_table, with_missing_b6


def ranked(table, **options):
    (ranking,) = rank_table(table, RankingConfig(**options))
    return dict(zip(ranking.algorithms, ranking.score.tolist(), strict=True)), dict(
        zip(ranking.algorithms, ranking.rank.tolist(), strict=True)
    )


def test_aggregate_mean_by_hand():
    # A: 496/6, B: 480/6 = 80, C: 465/6 = 77.5
    scores, ranks = ranked(example_table(), method="aggregate-mean")
    assert scores == pytest.approx({"A": 496 / 6, "B": 80.0, "C": 77.5})
    assert ranks == {"A": 1, "B": 2, "C": 3}


def test_aggregate_median_by_hand():
    # sorted A: 68 74 82 86 91 95 → (82 + 86)/2; B: (78 + 85)/2; C: (75 + 80)/2
    scores, ranks = ranked(example_table(), method="aggregate-median")
    assert scores == {"A": 84.0, "B": 81.5, "C": 77.5}
    assert ranks == {"A": 1, "B": 2, "C": 3}


@pytest.mark.parametrize(("ties", "tied_rank"), [("min", 2), ("average", 2.5)])
def test_rank_then_aggregate_by_hand(ties, tied_rank):
    # per-case ranks A: 1 2 1 1 1 2 (8), B: 2 3 2 3 3 1 (14), C: 3 1 3 2 2 3 (14)
    scores, ranks = ranked(example_table(), method="rank-then-aggregate", ties=ties)
    assert scores == pytest.approx({"A": 8 / 6, "B": 14 / 6, "C": 14 / 6})
    assert ranks == {"A": 1, "B": tied_rank, "C": tied_rank}


@pytest.mark.parametrize(("ties", "tied_rank"), [("min", 2), ("average", 2.5)])
def test_test_then_rank_by_hand(ties, tied_rank):
    # A > B: p = 0.0366 ≤ 0.05; A > C: p = 0.070; B > C: p = 0.20; the reverse tests are larger.
    scores, ranks = ranked(example_table(), method="test-then-rank", ties=ties)
    assert scores == {"A": 0.5, "B": 0.0, "C": 0.0}
    assert ranks == {"A": 1, "B": tied_rank, "C": tied_rank}


@pytest.mark.parametrize("adjust", ["holm", "bonferroni"])
def test_adjustment_over_all_six_tests_removes_the_only_win(adjust):
    # the smallest p, 0.0366, times 6 tests exceeds 0.05: nobody wins, all tie at rank 1
    scores, ranks = ranked(example_table(), method="test-then-rank", adjust=adjust)
    assert scores == {"A": 0.0, "B": 0.0, "C": 0.0}
    assert ranks == {"A": 1, "B": 1, "C": 1}


def test_a_larger_alpha_lets_a_beat_c():
    scores, _ = ranked(example_table(), method="test-then-rank", alpha=0.1)
    assert scores == {"A": 1.0, "B": 0.0, "C": 0.0}


def test_smaller_better_reverses_every_method():
    negated = {
        a: tuple(-v for v in row)
        for a, row in zip(
            "ABC",
            [(91, 82, 86, 74, 95, 68), (88, 78, 85, 70, 90, 69), (80, 85, 75, 72, 93, 60)],
            strict=True,
        )
    }
    for method in ("aggregate-mean", "aggregate-median", "rank-then-aggregate", "test-then-rank"):
        _, expected = ranked(example_table(), method=method)
        _, got = ranked(example_table(negated), method=method, larger_better=False)
        assert got == expected, method


def test_missing_value_replaced_by_a_number():
    # B's missing c6 becomes 0: mean 411/6 = 68.5; the median stays (78 + 85)/2
    scores, ranks = ranked(with_missing_b6(), method="aggregate-mean", na=0)
    assert scores["B"] == 68.5 and ranks == {"A": 1, "C": 2, "B": 3}
    scores, _ = ranked(with_missing_b6(), method="aggregate-median", na=0)
    assert scores["B"] == 81.5


def test_missing_value_worst_makes_the_mean_the_worst():
    scores, ranks = ranked(with_missing_b6(), method="aggregate-mean", na="worst")
    assert scores["B"] == -math.inf and ranks == {"A": 1, "C": 2, "B": 3}


def test_missing_value_worst_in_rank_then_aggregate_is_the_last_rank_of_its_case():
    # c6: A 68 → 1, C 60 → 2, B missing → 3; A: 7/6, B: 16/6, C: 13/6
    scores, ranks = ranked(with_missing_b6(), method="rank-then-aggregate", na="worst")
    assert scores == pytest.approx({"A": 7 / 6, "B": 16 / 6, "C": 13 / 6})
    assert ranks == {"A": 1, "C": 2, "B": 3}


def test_dropping_a_missing_value_warns_and_favours_the_algorithm():
    with pytest.warns(DroppedCasesWarning, match="1 missing values dropped"):
        scores, ranks = ranked(with_missing_b6(), method="aggregate-mean", na="drop")
    assert scores["B"] == 411 / 5 and ranks == {"A": 1, "B": 2, "C": 3}


def all_missing_table():
    """A and B have values on five cases; Z has none."""
    pairs = [(0.9, 0.8), (0.7, 0.9), (0.6, 0.5), (0.8, 0.85), (0.2, 0.1)]
    rows = []
    for j, (a, b) in enumerate(pairs):
        rows += [(f"c{j}", "A", a), (f"c{j}", "B", b), (f"c{j}", "Z", None)]
    return ScoreTable.from_records(
        [{"task": "T", "case": c, "algorithm": a, "value": v} for c, a, v in rows]
    )


@pytest.mark.parametrize(
    "method", ["aggregate-mean", "aggregate-median", "rank-then-aggregate", "test-then-rank"]
)
@pytest.mark.parametrize("na", ["worst", "drop", 0.0])
def test_an_all_missing_algorithm_never_ranks_first(method, na):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedCasesWarning)
        scores, ranks = ranked(all_missing_table(), method=method, na=na)
    assert ranks["Z"] == max(ranks.values())
    assert ranks["Z"] > min(ranks["A"], ranks["B"]) or method == "test-then-rank"
    if na == "drop":
        assert math.isnan(scores["Z"])


def test_an_all_missing_algorithm_ranks_after_equal_shares_under_test_then_rank():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedCasesWarning)
        _, ranks = ranked(all_missing_table(), method="test-then-rank", na="drop")
    # rankNA2: the missing score gets the largest present rank (1) + 1
    assert ranks == {"A": 1, "B": 1, "Z": 2}


def test_significance_matrix_of_the_example():
    (matrix,) = task_matrices(example_table()).values()
    superior = significance(matrix, RankingConfig(method="test-then-rank"))[0]
    assert superior.tolist() == [[False, True, False], [False, False, False], [False, False, False]]


def test_holm_and_bonferroni_match_r():
    p = np.array([0.01, 0.04, 0.03, 0.02, 0.05])
    np.testing.assert_allclose(adjust_pvalues(p, "bonferroni"), [0.05, 0.2, 0.15, 0.1, 0.25])
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.05, 0.09, 0.09, 0.08, 0.09])
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), reference.adjust(list(p), "holm"))


@pytest.mark.parametrize(
    "options",
    [
        {"method": "median"},
        {"method": "aggregate-mean", "ties": "dense"},
        {"method": "test-then-rank", "adjust": "fdr"},
        {"method": "test-then-rank", "alpha": 1.5},
        {"method": "aggregate-mean", "na": "zero"},
    ],
)
def test_invalid_configurations_are_rejected(options):
    with pytest.raises(StatsInputError):
        RankingConfig(**options)


def random_rows(rng, k, n, missing):
    values = np.round(rng.normal(size=(k, n)), 1)
    values[rng.random((k, n)) < missing] = np.nan
    return [(f"c{j}", f"a{i}", float(values[i, j])) for i in range(k) for j in range(n)]


def to_table(rows, task="T"):
    return ScoreTable.from_columns(
        task=[task] * len(rows),
        case=[c for c, _, _ in rows],
        algorithm=[a for _, a, _ in rows],
        value=[v for _, _, v in rows],
    )


def reference_ranking(rows, method, na, larger_better, ties, adjust="none"):
    if method.startswith("aggregate"):
        return reference.aggregate_then_rank(
            rows, median=method.endswith("median"), na=na, larger_better=larger_better, ties=ties
        )
    if method == "rank-then-aggregate":
        return reference.rank_then_aggregate(rows, na=na, larger_better=larger_better, ties=ties)
    return reference.test_then_rank(
        rows, na=na, larger_better=larger_better, ties=ties, adjust_method=adjust
    )


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(
        ["aggregate-mean", "aggregate-median", "rank-then-aggregate", "test-then-rank"]
    ),
    st.sampled_from(["worst", "drop", 0.0]),
    st.booleans(),
    st.sampled_from(["min", "average"]),
    st.sampled_from(["none", "holm"]),
)
def test_agrees_with_the_loop_reference(seed, method, na, larger_better, ties, adjust):
    rows = random_rows(np.random.default_rng(seed), k=4, n=12, missing=0.15)
    config = RankingConfig(
        method=method, na=na, larger_better=larger_better, ties=ties, adjust=adjust
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedCasesWarning)
        (ranking,) = rank_table(to_table(rows), config)
    scores, ranks = reference_ranking(rows, method, na, larger_better, ties, adjust)
    np.testing.assert_allclose(ranking.score, scores, rtol=1e-12, atol=1e-12)
    assert ranking.rank.tolist() == ranks


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(
        ["aggregate-mean", "aggregate-median", "rank-then-aggregate", "test-then-rank"]
    ),
    st.sampled_from(["min", "average"]),
)
def test_rankings_do_not_depend_on_the_order_of_algorithms_cases_or_rows(seed, method, ties):
    rng = np.random.default_rng(seed)
    rows = random_rows(rng, k=5, n=10, missing=0.1)
    rows += [(c, "copy", v) for c, a, v in rows if a == "a0"]  # an exact tie with a0
    algorithm_names = {a: f"{rng.integers(1000)}-{a}" for a in {a for _, a, _ in rows}}
    case_names = {c: f"{rng.integers(1000)}-{c}" for c in {c for c, _, _ in rows}}
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    renamed = [(case_names[c], algorithm_names[a], v) for c, a, v in shuffled]
    config = RankingConfig(method=method, ties=ties, na=0.0)
    (original,) = rank_table(to_table(rows), config)
    (other,) = rank_table(to_table(renamed), config)
    position = {name: k for k, name in enumerate(other.algorithms)}
    for k, name in enumerate(original.algorithms):
        assert other.rank[position[algorithm_names[name]]] == original.rank[k]
    assert (
        original.rank[original.algorithms.index("a0")]
        == original.rank[original.algorithms.index("copy")]
    )


def test_configuration_in_plain_words():
    config = RankingConfig(method="test-then-rank", adjust="holm", na=0.0, larger_better=False)
    assert config.description() == (
        "ranked by the share of other algorithms beaten in one-sided Wilcoxon signed-rank "
        "tests at α = 0.05, Holm-adjusted (smaller is better; ties: min; missing values count "
        "as 0)."
    )
    assert "worse than every observed value" in RankingConfig(method="aggregate-mean").description()


@pytest.mark.parametrize("method", ["aggregate-mean", "aggregate-median"])
@pytest.mark.parametrize(("ties", "expected"), [("min", [1, 1, 3]), ("average", [1.5, 1.5, 3])])
def test_tied_aggregates_by_hand(method, ties, expected):
    # means and medians: A (1 + 3)/2 = 2, B (2 + 2)/2 = 2, C (0 + 2)/2 = 1
    table = ScoreTable.from_records(
        {"task": "T", "case": c, "algorithm": a, "value": v}
        for a, values in {"A": (1, 3), "B": (2, 2), "C": (0, 2)}.items()
        for c, v in zip(("c1", "c2"), values, strict=True)
    )
    (ranking,) = rank_table(table, RankingConfig(method=method, ties=ties))
    assert ranking.rank.tolist() == expected


def test_test_then_rank_drops_an_algorithm_without_values_as_challenger_does():
    a = [9, 8, 9, 7, 9, 8, 9, 9]
    b = [1, 2, 1, 3, 2, 1, 2, 1]
    rows = ([("A", f"c{i}", v) for i, v in enumerate(a)]
            + [("B", f"c{i}", v) for i, v in enumerate(b)]
            + [("C", f"c{i}", None) for i in range(len(a))])
    table = ScoreTable.from_columns(task=["T"] * len(rows), case=[r[1] for r in rows],
                                    algorithm=[r[0] for r in rows], value=[r[2] for r in rows])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedCasesWarning)
        ranking = rank_table(table, RankingConfig(method="test-then-rank", na="drop"))[0]
    scores = dict(zip(ranking.algorithms, ranking.score, strict=True))
    ranks = dict(zip(ranking.algorithms, ranking.rank, strict=True))
    assert (scores["A"], ranks["A"]) == (1.0, 1.0)  # beat every other algorithm present
    assert (scores["B"], ranks["B"]) == (0.0, 2.0)
    assert math.isnan(scores["C"]) and ranks["C"] == 3.0
