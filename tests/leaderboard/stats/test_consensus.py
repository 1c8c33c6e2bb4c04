import numpy as np
import pytest

from leaderboard.stats.consensus import (
    Criterion,
    mean_rank_consensus,
    msd_consensus,
    msd_ranking,
)
from leaderboard.stats.errors import StatsInputError
from leaderboard.stats.methods import RankingConfig, TaskRanking, rank_table
from tests.leaderboard.stats.examples import example_table


def ranking(task, ranks):
    names = tuple(sorted(ranks))
    return TaskRanking(
        task=task,
        algorithms=names,
        score=np.zeros(len(names)),
        rank=np.array([ranks[n] for n in names], dtype=float),
        n_cases=1,
    )


def test_mean_rank_consensus_averages_ties_before_the_mean():
    # T1 ranks 1 2 2 become 1 2.5 2.5; means A (1 + 2 + 1.5)/3 = 1.5, B 5/3, C 8.5/3
    consensus = mean_rank_consensus(
        [
            ranking("T1", {"A": 1, "B": 2, "C": 2}),
            ranking("T2", {"A": 2, "B": 1, "C": 3}),
            ranking("T3", {"A": 1, "B": 1, "C": 3}),
        ]
    )
    np.testing.assert_allclose(consensus.score, [1.5, 5 / 3, 8.5 / 3])
    assert consensus.rank.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(consensus.task_scores["T1"], [1, 2.5, 2.5])
    assert [r["algorithm"] for r in consensus.records()] == ["A", "B", "C"]


def test_equal_mean_ranks_share_the_best_rank():
    consensus = mean_rank_consensus(
        [ranking("T1", {"A": 1, "B": 2}), ranking("T2", {"A": 2, "B": 1})]
    )
    assert consensus.rank.tolist() == [1, 1]
    assert consensus.records()[0] == {"algorithm": "A", "consensus_score": 1.5, "rank": 1.0}


def test_consensus_needs_every_algorithm_in_every_task_once():
    with pytest.raises(StatsInputError, match="not ranked in every task"):
        mean_rank_consensus([ranking("T1", {"A": 1, "B": 2}), ranking("T2", {"A": 1})])
    with pytest.raises(StatsInputError, match="appears twice"):
        mean_rank_consensus([ranking("T1", {"A": 1}), ranking("T1", {"A": 1})])
    with pytest.raises(StatsInputError, match="at least one"):
        mean_rank_consensus([])


def test_msd_weighs_tasks_equally_whatever_their_number_of_rankings():
    # task X: Dice ranks A1 B2 C3, NSD A2 B1 C3 → 1.5 1.5 3; task Y: A2 B2 C1.
    # overall A (1.5 + 2)/2 = 1.75, B 1.75, C 2 → A and B share rank 1.
    consensus = msd_consensus(
        [
            ranking("X", {"A": 1, "B": 2, "C": 3}),
            ranking("X", {"A": 2, "B": 1, "C": 3}),
            ranking("Y", {"A": 2, "B": 2, "C": 1}),
        ]
    )
    np.testing.assert_allclose(consensus.task_scores["X"], [1.5, 1.5, 3])
    np.testing.assert_allclose(consensus.score, [1.75, 1.75, 2.0])
    assert consensus.rank.tolist() == [1, 1, 3]


def test_msd_ranking_runs_test_then_rank_per_criterion():
    dice = example_table(task="X")
    nsd_values = {"A": (1, 2, 3, 4, 5, 6), "B": (2, 3, 4, 5, 6, 7), "C": (9, 9, 9, 9, 9, 9)}
    nsd = example_table(nsd_values, task="X")
    consensus = msd_ranking([Criterion(dice, True), Criterion(nsd, True)], na=0.0)
    per_criterion = [
        *rank_table(dice, RankingConfig(method="test-then-rank", na=0.0)),
        *rank_table(nsd, RankingConfig(method="test-then-rank", na=0.0)),
    ]
    # Dice: A 1, B 2, C 2; NSD: C beats both (p = 0.018), B beats A: C 1, B 2, A 3
    assert [r.rank.tolist() for r in per_criterion] == [[1, 2, 2], [3, 2, 1]]
    np.testing.assert_allclose(consensus.score, [2.0, 2.0, 1.5])
    assert consensus.rank.tolist() == [2, 2, 1]
