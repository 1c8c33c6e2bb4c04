import math

import numpy as np
import pytest

from leaderboard.stats.errors import StatsInputError
from leaderboard.stats.table import ScoreTable, check_na_rule, task_matrices


def table(rows):
    return ScoreTable.from_records(
        [{"task": t, "case": c, "algorithm": a, "value": v} for t, c, a, v in rows]
    )


def test_matrix_is_sorted_by_name_whatever_the_row_order():
    rows = [
        ("T", "c2", "B", 1.0),
        ("T", "c1", "A", 2.0),
        ("T", "c2", "A", 3.0),
        ("T", "c1", "B", 4.0),
    ]
    forward, backward = task_matrices(table(rows))["T"], task_matrices(table(rows[::-1]))["T"]
    assert forward.algorithms == backward.algorithms == ("A", "B")
    assert forward.cases == ("c1", "c2")
    np.testing.assert_array_equal(forward.values, [[2.0, 3.0], [4.0, 1.0]])
    np.testing.assert_array_equal(backward.values, forward.values)


def test_absent_pairs_are_added_as_missing_and_counted():
    matrix = task_matrices(table([("T", "c1", "A", 1.0), ("T", "c2", "B", 2.0)]))["T"]
    assert matrix.n_added == 2
    assert np.isnan(matrix.values[0, 1]) and np.isnan(matrix.values[1, 0])


def test_each_task_has_its_own_algorithms_and_cases():
    matrices = task_matrices(table([("T2", "x", "A", 1.0), ("T1", "y", "B", None)]))
    assert list(matrices) == ["T1", "T2"]
    assert matrices["T1"].algorithms == ("B",) and matrices["T1"].cases == ("y",)
    assert math.isnan(matrices["T1"].values[0, 0])


def test_a_duplicate_pair_is_an_error_that_names_it():
    rows = [("T", "c1", "A", 1.0), ("T", "c1", "A", 2.0)]
    with pytest.raises(StatsInputError, match="case c1 for algorithm A"):
        task_matrices(table(rows))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("T", "", "A", 1.0), "case"),
        (("T", "c", "A\x00", 1.0), "control characters"),
        (("T", "c", 7, 1.0), "algorithm"),
        (("T", "c", "A", math.inf), "infinite"),
        (("T", "c", "A", "high"), "numbers"),
    ],
)
def test_hostile_rows_are_rejected(row, message):
    with pytest.raises(StatsInputError, match=message):
        table([row])


def test_a_row_without_a_column_is_rejected():
    with pytest.raises(StatsInputError, match="value"):
        ScoreTable.from_records([{"task": "T", "case": "c", "algorithm": "A"}])


def test_empty_table_is_rejected():
    with pytest.raises(StatsInputError, match="no rows"):
        task_matrices(table([]))


@pytest.mark.parametrize("rule", ["worst", "drop", 0, 0.5, -3.0])
def test_valid_missing_value_rules(rule):
    assert check_na_rule(rule) == rule


@pytest.mark.parametrize("rule", ["zero", math.nan, math.inf, True, None])
def test_invalid_missing_value_rules(rule):
    with pytest.raises(StatsInputError):
        check_na_rule(rule)
