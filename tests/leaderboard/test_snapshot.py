"""Phase snapshots: their numbers equal what leaderboard.stats computes directly on the table of
the values the test chose; the worst-value rule; the bootstrap seed; the refresh rules."""

import math
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from challenges.models import Team
from leaderboard import services
from leaderboard.models import LeaderboardSnapshot
from leaderboard.stats import RankingConfig, method_names, significance
from tests import factories

from .helpers import labelled_phase, random_board, scored_evaluation, stats_on_chosen_values

pytestmark = pytest.mark.django_db

CASES = [f"case_{i:02d}" for i in range(15)]


@pytest.mark.parametrize(("method", "ties", "adjust"), [
    ("aggregate-mean", "min", "none"),
    ("aggregate-median", "min", "none"),
    ("rank-then-aggregate", "average", "none"),
    ("test-then-rank", "min", "holm"),
])
def test_snapshot_equals_stats_on_the_same_table(method, ties, adjust):
    phase = labelled_phase(cases=CASES, labels={"1": "left", "2": "right"},
                           ranking_method=method, ranking_ties=ties, ranking_adjust=adjust,
                           bootstrap_samples=200)
    grids = random_board(phase, 6, seed=3)
    snapshot = services.refresh(phase.id)
    config = RankingConfig(method=method, larger_better=True, na=0.0, ties=ties, adjust=adjust)
    boot, matrix = stats_on_chosen_values(phase, grids, config, 200)
    summary = boot.summary()
    k_of = {name: k for k, name in enumerate(summary.algorithms)}
    expected_order = sorted(grids, key=lambda name: (summary.full_rank[k_of[name]], name))
    assert [e["entrant"] for e in snapshot.entries] == expected_order
    for entry in snapshot.entries:
        k = k_of[entry["entrant"]]
        assert entry["rank"] == summary.full_rank[k]
        assert entry["score"] == pytest.approx(summary.aggregate_value[k], rel=1e-12)
        assert entry["score_q025"] == pytest.approx(summary.aggregate_q025[k], rel=1e-12)
        assert entry["score_q975"] == pytest.approx(summary.aggregate_q975[k], rel=1e-12)
        assert entry["ranking_score"] == pytest.approx(boot.full.score[k], rel=1e-12)
        assert (entry["rank_q025"], entry["rank_q975"]) == (summary.q025[k], summary.q975[k])
        assert entry["rank_median"] == summary.median_rank[k]
        assert entry["p_rank1"] == summary.p_rank[k, 0]
        assert entry["n_cases"] == len(CASES)
    order = [k_of[name] for name in expected_order]
    statistics = snapshot.statistics
    assert statistics["rank_distribution"] == summary.p_rank[order].tolist()
    assert statistics["significance"] == significance(matrix, config)[0][
        np.ix_(order, order)].tolist()
    defined = boot.tau[np.isfinite(boot.tau)]
    assert statistics["kendall_tau"]["median"] == pytest.approx(np.median(defined))
    assert snapshot.seed == phase.ranking_seed and snapshot.ranking_method == method
    assert statistics["ranking_method_description"] == config.description()
    # The stored per-case values are the label means, in entry order and sorted case order.
    first = snapshot.entries[0]["entrant"]
    assert statistics["case_values"]["dice"][0] == pytest.approx(
        list(np.mean(grids[first], axis=1)), rel=1e-5)


def test_primary_score_is_the_evaluation_aggregate_for_the_mean():
    phase = labelled_phase(cases=CASES, labels={"1": "a", "2": "b", "3": "c"},
                           bootstrap_samples=0)
    random_board(phase, 4, seed=1)
    snapshot = services.refresh(phase.id)
    for entry in snapshot.entries:
        per_label = [entry["aggregate"][label]["dice"] for label in ("1", "2", "3")]
        assert entry["score"] == pytest.approx(sum(per_label) / 3, rel=1e-12)
        assert entry["score_q025"] is None and entry["p_rank1"] is None
    assert snapshot.seed is None and snapshot.statistics["rank_distribution"] is None
    assert not snapshot.plots.filter(name="blob").exists()
    assert "plots" not in snapshot.statistics


def test_undefined_and_missing_distances_count_as_the_image_diagonal():
    """hd95, smaller is better. The factories' test image is 8×8×4 voxels of 1×1×2 mm: its
    diagonal is √(8² + 8² + 8²) = 13.856 mm."""
    phase = labelled_phase(cases=["a", "b"], primary_metric="hd95", bootstrap_samples=0)
    diagonal = math.sqrt(3 * 64)
    close = factories.participant(phase, "close")
    undefined = factories.participant(phase, "undefined")
    absent = factories.participant(phase, "absent")
    scored_evaluation(phase, close, {("a", 1): {"hd95": 3.0}, ("b", 1): {"hd95": 5.0}})
    scored_evaluation(phase, undefined, {("a", 1): {"hd95": 1.0}, ("b", 1): {"hd95": None}})
    scored_evaluation(phase, absent, {("a", 1): {"hd95": 2.0}}, missing=["b"])
    entries = {e["entrant"]: e for e in services.refresh(phase.id).entries}
    assert entries["close"]["score"] == pytest.approx(4.0)
    assert entries["undefined"]["score"] == pytest.approx((1.0 + diagonal) / 2)
    assert entries["absent"]["score"] == pytest.approx((2.0 + diagonal) / 2)
    assert [entries[n]["rank"] for n in ("close", "undefined", "absent")] == [1, 2, 3]


def test_a_fixed_worst_distance_replaces_the_diagonal():
    phase = labelled_phase(cases=["a", "b"], primary_metric="hd", worst_distance_mm=50.0,
                           bootstrap_samples=0)
    user = factories.participant(phase)
    scored_evaluation(phase, user, {("a", 1): {"hd": 10.0}, ("b", 1): {"hd": None}})
    snapshot = services.refresh(phase.id)
    assert snapshot.entries[0]["score"] == pytest.approx(30.0)
    assert "missing values count as 50" in snapshot.statistics["ranking_method_description"]
    assert "50 mm" in snapshot.statistics["missing_value_rule"]


@pytest.mark.parametrize("method", method_names())
def test_all_undefined_never_ranks_first(method):
    phase = labelled_phase(cases=CASES[:8], ranking_method=method, bootstrap_samples=50)
    empty = factories.participant(phase, "empty")
    weak = factories.participant(phase, "weak")
    scored_evaluation(phase, empty, {(c, 1): {"dice": None} for c in CASES[:8]})
    scored_evaluation(phase, weak, {(c, 1): {"dice": 0.01} for c in CASES[:8]})
    entries = services.refresh(phase.id).entries
    assert [e["entrant"] for e in entries] == ["weak", "empty"]
    assert entries[1]["rank"] == 2 and entries[1]["p_rank1"] == 0.0


def test_a_team_and_a_user_of_the_same_name_are_told_apart():
    phase = labelled_phase(cases=["a"], bootstrap_samples=0)
    team = Team.objects.create(challenge=phase.task.challenge, name="vision")
    scored_evaluation(phase, factories.participant(phase, "vision"), {("a", 1): {"dice": 0.5}})
    scored_evaluation(phase, factories.participant(phase), {("a", 1): {"dice": 0.7}}, team=team)
    names = [e["entrant"] for e in services.refresh(phase.id).entries]
    assert names == ["vision (team)", "vision (user)"]


def test_latest_submission_per_participant_is_ranked():
    phase = labelled_phase(cases=["a"], bootstrap_samples=0)
    user = factories.participant(phase, "twice")
    scored_evaluation(phase, user, {("a", 1): {"dice": 0.9}})
    latest = scored_evaluation(phase, user, {("a", 1): {"dice": 0.4}})
    entries = services.refresh(phase.id).entries
    assert [(e["entrant"], e["evaluation"]) for e in entries] == [("twice", str(latest.id))]


def test_unchanged_inputs_are_not_recomputed_and_a_config_change_is():
    phase = labelled_phase(cases=CASES[:6], bootstrap_samples=100)
    random_board(phase, 3)
    first = services.refresh(phase.id)
    again = services.refresh(phase.id)
    assert again.computed_at == first.computed_at
    phase.ranking_method = "rank-then-aggregate"
    phase.save()  # the admin saves like this: the snapshot is asked to refresh
    assert LeaderboardSnapshot.objects.get(pk=first.pk).refresh_pending
    changed = services.refresh(phase.id)
    assert changed.computed_at > first.computed_at
    assert changed.ranking_method == "rank-then-aggregate"
    assert changed.options["method"] == "rank-then-aggregate"


def test_a_computation_from_older_inputs_never_overwrites_a_newer_one():
    phase = labelled_phase(cases=CASES[:4], bootstrap_samples=0)
    random_board(phase, 2)
    snapshot = services.refresh(phase.id)
    newer = timezone.now() + timedelta(minutes=5)
    LeaderboardSnapshot.objects.filter(pk=snapshot.pk).update(inputs_read_at=newer,
                                                              input_sha256="")
    random_board(phase, 1, seed=9, names=["late"])
    kept = services.refresh(phase.id)
    assert len(kept.entries) == 2 and kept.inputs_read_at == newer


def test_same_seed_same_intervals_other_seed_other_resamples():
    phase = labelled_phase(cases=CASES, bootstrap_samples=100, ranking_seed=7)
    random_board(phase, 4, seed=5)
    first = services.refresh(phase.id).entries
    LeaderboardSnapshot.objects.filter(phase=phase).delete()
    assert services.refresh(phase.id).entries == first
    phase.ranking_seed = 8
    phase.save()
    other = services.refresh(phase.id).entries
    assert [e["score_q025"] for e in other] != [e["score_q025"] for e in first]
