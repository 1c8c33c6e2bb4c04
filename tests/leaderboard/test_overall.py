"""The overall (Decathlon) ranking of a challenge, worked by hand, with a participant missing a
task; its API, its page, and its visibility."""

from html.parser import HTMLParser

import pytest
from django.test import Client

from leaderboard import services
from tests import factories

from .helpers import challenge_phases, scored_evaluation

pytestmark = pytest.mark.django_db

CASES = [f"c{j}" for j in range(6)]
# Dice (and NSD, equal) per case. T1: B beats C on 3 cases and ties on 3, which no Wilcoxon
# test at α = 0.05 can call significant (n = 3: p = 0.091); every other gap is significant
# (6 of 6 cases: p = 0.018). D submits nothing to T2.
VALUES = {
    "T1": {"A": [0.9] * 6, "B": [0.8] * 3 + [0.7] * 3, "C": [0.7] * 6, "D": [0.6] * 6},
    "T2": {"A": [0.8] * 6, "B": [0.9] * 6, "C": [0.7] * 6},
    "T3": {"A": [0.8] * 6, "B": [0.8] * 6, "C": [0.9] * 6, "D": [0.5] * 6},
}
# By hand. Leaderboards (aggregate-mean, ties min): T1 A1 B2 C3 D4; T2 B1 A2 C3 (D absent:
# 3 + 1 = 4); T3 C1 A2 B2 D4 → ties averaged A2.5 B2.5.
# Mean rank: A (1 + 2 + 2.5)/3, B (2 + 1 + 2.5)/3, C (3 + 3 + 1)/3, D (4 + 4 + 4)/3.
MEAN_RANK = {"A": (1.8333333333333333, 1), "B": (1.8333333333333333, 1),
             "C": (7 / 3, 3), "D": (4.0, 4)}
# MSD-style (test-then-rank, share of others beaten; Dice and NSD agree): T1 A beats 3 → 1,
# B and C beat only D → 2, 2, D 4; T2 B1 A2 C3, D absent → 4; T3 C1, A and B beat only D → 2,
# D 4. Means: A (1 + 2 + 2)/3, B (2 + 1 + 2)/3, C (2 + 3 + 1)/3, D 4.
MSD = {"A": (5 / 3, 1), "B": (5 / 3, 1), "C": (2.0, 3), "D": (4.0, 4)}


@pytest.fixture
def decathlon():
    phases = challenge_phases(["T1", "T2", "T3"], cases=CASES, bootstrap_samples=0)
    users = {name: factories.participant(phases[0], name) for name in "ABCD"}
    for phase in phases:
        for name, dice in VALUES[phase.task.key].items():
            scored_evaluation(phase, users[name], {
                (case, 1): {"dice": value, "nsd": value} for case, value in zip(CASES, dice,
                                                                                strict=True)
            })
        services.refresh(phase.id)
    challenge = phases[0].task.challenge
    services.refresh_challenge(challenge.id)
    return challenge, phases


def test_mean_rank_and_msd_rankings_with_a_participant_missing_a_task(decathlon):
    challenge, _ = decathlon
    body = Client().get(f"/api/v1/challenges/{challenge.slug}/leaderboard/").json()
    (ranking,) = body["rankings"]
    assert ranking["phase_name"] == "Test"
    assert [t["key"] for t in ranking["tasks"]] == ["T1", "T2", "T3"]
    assert [t["participants"] for t in ranking["tasks"]] == [4, 3, 4]
    mean_rank = {row["entrant"]: row for row in ranking["entries"]}
    for name, (score, rank) in MEAN_RANK.items():
        assert mean_rank[name]["score"] == pytest.approx(score, abs=1e-12)
        assert mean_rank[name]["rank"] == rank
    assert mean_rank["D"]["task_ranks"] == [4, None, 4]
    assert mean_rank["D"]["task_scores"] == [4.0, 4.0, 4.0]
    assert mean_rank["D"]["tasks_ranked"] == 2
    assert mean_rank["A"]["task_scores"] == [1.0, 2.0, 2.5]
    msd = {row["entrant"]: row for row in ranking["msd_entries"]}
    for name, (score, rank) in MSD.items():
        assert msd[name]["score"] == pytest.approx(score, abs=1e-12)
        assert msd[name]["rank"] == rank
    assert msd["C"]["task_scores"] == [2.0, 3.0, 1.0]
    assert [row["rank"] for row in ranking["entries"]] == [1, 1, 3, 4]


class Rows(HTMLParser):
    """Cell texts of the rows of every table with a given class."""

    def __init__(self, table_class):
        super().__init__()
        self.table_class, self.depth, self.rows, self.cell = table_class, 0, [], None

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and self.table_class in classes:
            self.depth = 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag == "td":
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.depth = 0
        elif tag == "td" and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_the_overall_page_shows_the_numbers(decathlon):
    challenge, _ = decathlon
    response = Client().get(f"/challenges/{challenge.slug}/leaderboard/")
    assert response.status_code == 200
    parser = Rows("mean-rank")
    parser.feed(response.content.decode())
    rows = {row[1]: row for row in parser.rows if row}
    assert rows["A"][:5] == ["1", "A", "1.833", "3 of 3", "1"]
    assert rows["D"][3:] == ["2 of 3", "4", "4 (absent)", "4"]
    parser = Rows("msd")
    parser.feed(response.content.decode())
    assert [row[:3] for row in parser.rows if row] == [
        ["1", "A", "1.667"], ["1", "B", "1.667"], ["3", "C", "2.000"], ["4", "D", "4.000"]]
    challenge_page = Client().get(f"/challenges/{challenge.slug}/").content.decode()
    assert f'href="/challenges/{challenge.slug}/leaderboard/"' in challenge_page


def test_an_unpublished_phase_hides_the_overall_ranking_except_from_organizers(decathlon):
    challenge, phases = decathlon
    phases[1].is_public = False
    phases[1].save()
    url = f"/api/v1/challenges/{challenge.id}/leaderboard/"
    public = Client().get(url).json()
    assert public["rankings"] == []
    assert public["withheld"] == [phases[1].name]  # said, not silently empty
    page = Client().get(f"/challenges/{challenge.slug}/leaderboard/").content.decode()
    assert "<table" not in page and "No overall ranking yet" not in page
    assert 'id="withheld"' in page and "is not public yet" in page
    organizer = factories.user("boss")
    challenge.organizers.add(organizer)
    client = Client()
    client.force_login(organizer)
    seen = client.get(url).json()
    assert len(seen["rankings"]) == 1 and seen["rankings"][0]["public"] is False
    assert seen["withheld"] == []
    page = client.get(f"/challenges/{challenge.slug}/leaderboard/").content.decode()
    assert "Only organizers see this overall ranking" in page


def test_the_overall_ranking_follows_a_changed_phase(decathlon):
    challenge, phases = decathlon
    late = factories.participant(phases[0], "E")
    scored_evaluation(phases[1], late, {(c, 1): {"dice": 1.0, "nsd": 1.0} for c in CASES})
    services.refresh(phases[1].id)
    snapshot = services.refresh_challenge(challenge.id)
    assert snapshot.entries == []  # a challenge's snapshot holds rankings, not entries
    entries = {row["entrant"]: row for row in snapshot.rankings[0]["entries"]}
    assert entries["E"]["task_ranks"] == [None, 1, None]
    assert entries["E"]["task_scores"] == [5.0, 1.0, 5.0]
