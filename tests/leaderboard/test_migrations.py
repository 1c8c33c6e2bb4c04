"""Migrations 0002 to 0004 keep every snapshot's content: the ranking method under its new
name, a challenge's overall rankings moved from ``entries`` to ``rankings``, the ranked party
named ``entrant``, the plots in a field of their own (and back when reversed)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("leaderboard", "0001_initial")]
AFTER = [("leaderboard", "0002_ranking_method_and_rankings")]
ENTRANT = [("leaderboard", "0003_entrant")]
PLOTS = [("leaderboard", "0004_snapshot_plots")]
RANKINGS = [{"phase_name": "Test", "phases": [], "tasks": [], "entries": [{"rank": 1}],
             "msd_entries": []}]
ROWS = [{"rank": 1, "participant": "alpha"}]


def migrate(targets):
    """Migrate to ``targets``; the snapshot model as it is there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps.get_model("leaderboard",
                                                                 "LeaderboardSnapshot")


def test_the_overall_rankings_move_to_their_own_field_and_back():
    phase = factories.phase()
    old = migrate(BEFORE)
    try:
        old.objects.create(challenge_id=phase.task.challenge_id, method="mean-rank",
                           entries=RANKINGS)
        old.objects.create(phase_id=phase.id, method="aggregate-mean", entries=ROWS)
        new = migrate(AFTER)
        overall = new.objects.get(challenge_id=phase.task.challenge_id)
        assert (overall.rankings, overall.entries, overall.ranking_method) == (
            RANKINGS, [], "mean-rank")
        board = new.objects.get(phase_id=phase.id)
        assert (board.entries, board.rankings, board.ranking_method) == (
            ROWS, [], "aggregate-mean")
        old = migrate(BEFORE)
        assert old.objects.get(challenge_id=phase.task.challenge_id).entries == RANKINGS
        assert old.objects.get(phase_id=phase.id).entries == ROWS
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("leaderboard"))


def test_stored_snapshots_name_the_entrant():
    phase = factories.phase()
    old = migrate(AFTER)
    try:
        old.objects.create(phase_id=phase.id, ranking_method="aggregate-mean", entries=ROWS,
                           statistics={"participant_keys": ["user:1"], "n_boot": 0,
                                       "missing_rule": "worst", "description": "mean"})
        old.objects.create(challenge_id=phase.task.challenge_id, ranking_method="mean-rank",
                           rankings=[{**RANKINGS[0], "entries": ROWS, "msd_entries": ROWS}])
        new = migrate(ENTRANT)
        board = new.objects.get(phase_id=phase.id)
        assert board.entries == [{"rank": 1, "entrant": "alpha"}]
        assert board.statistics == {"entrant_keys": ["user:1"], "n_boot": 0,
                                    "missing_value_rule": "worst",
                                    "ranking_method_description": "mean"}
        overall = new.objects.get(challenge_id=phase.task.challenge_id).rankings[0]
        assert overall["entries"] == overall["msd_entries"] == [{"rank": 1, "entrant": "alpha"}]
        old = migrate(AFTER)
        assert old.objects.get(phase_id=phase.id).entries == ROWS
        assert old.objects.get(phase_id=phase.id).statistics == {
            "participant_keys": ["user:1"], "n_boot": 0, "missing_rule": "worst",
            "description": "mean"}
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("leaderboard"))


def test_the_plots_move_out_of_the_statistics_and_back():
    phase = factories.phase()
    other = factories.phase()
    plots = {"blob": "<svg>blob</svg>", "significance": "<svg>map</svg>"}
    old = migrate(ENTRANT)
    try:
        old.objects.create(phase_id=phase.id, ranking_method="aggregate-mean", entries=ROWS,
                           statistics={"n_boot": 0, "plots": plots})
        old.objects.create(phase_id=other.id, ranking_method="aggregate-mean",
                           statistics={"n_boot": 0, "plots": {"blob": None}})
        new = migrate(PLOTS)
        board = new.objects.get(phase_id=phase.id)
        assert (board.statistics, board.entries) == ({"n_boot": 0}, ROWS)
        assert dict(board.plots.values_list("name", "svg")) == plots
        assert not new.objects.get(phase_id=other.id).plots.exists()  # a null: no row
        old = migrate(ENTRANT)
        assert old.objects.get(phase_id=phase.id).statistics == {"n_boot": 0, "plots": plots}
        assert old.objects.get(phase_id=other.id).statistics == {"n_boot": 0}
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("leaderboard"))
