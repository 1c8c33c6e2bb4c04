"""The ranking-method registry: a method registered in one place (here, a toy "aggregate-max")
ranks tables, is bootstrapped, explained and offered by the CLI; the built-ins fill the phase's
choices."""

import csv

import numpy as np
import pytest

from challenges.models import Phase
from leaderboard.stats import (
    RankingConfig,
    ScoreTable,
    bootstrap_task,
    method_names,
    rank_table,
    rank_task,
    ranking_methods,
    register,
    task_matrices,
    unregister,
)
from leaderboard.stats.cli import main
from leaderboard.stats.methods import prepared_values

TOY = "aggregate-max"
# A's best case is better than all of B's, B's mean is better than A's: the toy ranks A first.
VALUES = {"A": [0.9, 0.1, 0.1, 0.2], "B": [0.5, 0.5, 0.6, 0.5]}
CASES = ["c1", "c2", "c3", "c4"]


def _aggregate_max(matrix, config, counts, compat):
    values, present = prepared_values(matrix, config)
    drawn = (counts[:, None, :] > 0) & present[None]
    best = np.where(drawn, values[None], -np.inf).max(axis=2)
    return np.where(drawn.any(axis=2), best, np.nan)


@pytest.fixture
def toy_method():
    register(
        TOY,
        label="Best case per algorithm, then ranked",
        aggregate="max",
        ranks_aggregate=True,
        direction="metric",
        sentence="best value of each algorithm, then ranked",
    )(_aggregate_max)
    yield TOY
    unregister(TOY)


def table(tasks=("T",)) -> ScoreTable:
    rows = [
        (task, case, algorithm, value)
        for task in tasks
        for algorithm, row in VALUES.items()
        for case, value in zip(CASES, row, strict=True)
    ]
    return ScoreTable.from_columns(**dict(zip(("task", "case", "algorithm", "value"),
                                              zip(*rows, strict=True), strict=True)))


def test_a_registered_method_ranks_tasks_and_tables(toy_method):
    config = RankingConfig(method=toy_method)
    ranking = rank_task(task_matrices(table())["T"], config)
    assert ranking.algorithms == ("A", "B")
    np.testing.assert_array_equal(ranking.score, [0.9, 0.6])
    np.testing.assert_array_equal(ranking.rank, [1, 2])
    smaller = rank_table(table(("T", "U")), RankingConfig(method=toy_method, larger_better=False))
    assert [r.task for r in smaller] == ["T", "U"]
    assert all(list(r.rank) == [2, 1] for r in smaller)
    assert config.description().startswith("best value of each algorithm, then ranked (")


def test_a_registered_method_is_bootstrapped(toy_method):
    matrix = task_matrices(table())["T"]
    boot = bootstrap_task(matrix, RankingConfig(method=toy_method), n_boot=50, seed=1)
    counts = boot.resamples.counts
    expected = np.array(
        [[max(v for v, c in zip(VALUES[a], row, strict=True) if c) for a in ("A", "B")]
         for row in counts]
    )
    np.testing.assert_array_equal(boot.scores, expected)
    assert boot.aggregate == "max"
    np.testing.assert_array_equal(boot.aggregates, boot.scores)
    np.testing.assert_array_equal(boot.full_aggregate, [0.9, 0.6])
    assert boot.summary().full_rank.tolist() == [1, 2]


def test_a_registered_method_is_a_cli_choice(toy_method, tmp_path):
    data, out = tmp_path / "data.csv", tmp_path / "ranking.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["task", "case", "algorithm", "value"])
        writer.writerows(
            ("T", case, algorithm, value)
            for algorithm, row in VALUES.items()
            for case, value in zip(CASES, row, strict=True)
        )
    assert main(["rank", "--input", str(data), "--method", toy_method, "--out", str(out)]) == 0
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["algorithm"], r["rank"]) for r in rows] == [("A", "1"), ("B", "2")]


def test_the_registry_holds_the_built_ins_and_fills_the_phase_choices():
    assert TOY not in method_names()
    assert method_names() == (
        "aggregate-mean", "aggregate-median", "rank-then-aggregate", "test-then-rank"
    )
    assert Phase.RANKING_METHODS == [(m.name, m.label) for m in ranking_methods()]


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="already registered"):
        register("aggregate-mean", label="again", aggregate="mean", direction="metric",
                 sentence="again")
