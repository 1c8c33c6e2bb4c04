"""Submission lists cost the same queries for 2 submissions as for 20 (no query per row), which
submission counts on the leaderboard included, and a phase's organizer lists all of its
submissions through the API."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from challenges.models import Participation, Phase, Team
from evaluation.models import Submission
from evaluation.selection import choose
from tests import factories

pytestmark = pytest.mark.django_db

AGGREGATE = {"1": {"dice": 0.8, "nsd": 0.9, "hd95": 2.0}}


def phase_with(n: int):
    """A phase that shows scores, its organizer, and a participant with ``n`` submissions (each
    with a failed then a succeeded evaluation), beside another participant's submission."""
    phase = factories.phase(show_scores=True, show_case_results=True)
    organizer = factories.user()
    phase.challenge.organizers.add(organizer)
    participant = factories.participant(phase)
    for _ in range(n):
        submission, _ = factories.submission(phase, participant, state="succeeded",
                                             aggregate=AGGREGATE)
        submission.evaluations.create(ground_truth=phase.active_ground_truth, state="failed",
                                      metric_config=phase.metric_config())
    factories.submission(phase, factories.participant(phase), state="queued")
    return phase, participant, organizer


def counted(user, url: str) -> tuple[int, object]:
    client = Client()
    client.force_login(user)
    client.get(url)  # sessions and caches warm
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries), response


@pytest.mark.parametrize("who, url", [
    ("participant", "/phases/{id}/submit/"),
    ("participant", "/api/v1/phases/{id}/submissions/"),
    ("organizer", "/api/v1/phases/{id}/submissions/"),
])
def test_lists_cost_the_same_queries_for_2_and_20_submissions(who, url):
    counts = []
    for n in (2, 20):
        phase, participant, organizer = phase_with(n)
        user = participant if who == "participant" else organizer
        count, _ = counted(user, url.format(id=phase.id))
        counts.append(count)
    assert counts[0] == counts[1]


def test_the_api_list_shows_the_latest_state_and_the_succeeded_results():
    phase, participant, _ = phase_with(2)
    _, response = counted(participant, f"/api/v1/phases/{phase.id}/submissions/")
    listed = response.json()["results"]
    assert len(listed) == 2
    for row in listed:
        assert row["state"] == "failed"  # the newest evaluation
        assert row["results"]["aggregate"] == AGGREGATE  # the newest succeeded one
        assert "cases" not in row["results"]


def test_the_organizer_lists_every_submission_of_the_phase_and_a_participant_what_they_see():
    phase, participant, organizer = phase_with(3)
    _, response = counted(organizer, f"/api/v1/phases/{phase.id}/submissions/")
    assert response.json()["count"] == 4
    _, response = counted(participant, f"/api/v1/phases/{phase.id}/submissions/")
    assert response.json()["count"] == 3
    Participation.objects.filter(user=participant).update(status=Participation.REJECTED)
    client = Client()
    client.force_login(participant)
    assert client.get(f"/api/v1/phases/{phase.id}/submissions/").json()["results"] == []


def team_choosing(n: int):
    """A phase whose teams choose the submission that counts, a team of two with ``n``
    succeeded submissions (the oldest chosen) in it and in a second phase, and another team's."""
    phase = factories.phase(show_scores=True, leaderboard_selection=Phase.SELECTED)
    second = Phase.objects.create(task=phase.task, name="Final", leaderboard_selection="best",
                                  active_ground_truth=phase.active_ground_truth)
    alice, bob = factories.participant(phase), factories.participant(phase)
    team = Team.objects.create(challenge=phase.challenge, name="Segmenters")
    Participation.objects.filter(user__in=[alice, bob]).update(team=team)
    for k in range(n):
        for where in (phase, second):
            submission, _ = factories.submission(where, (alice, bob)[k % 2], state="succeeded",
                                                 aggregate={"1": {"dice": 0.5 + k / 100}})
            Submission.objects.filter(pk=submission.pk).update(team=team)
    other = factories.participant(phase)
    factories.submission(phase, other, state="succeeded", aggregate=AGGREGATE)
    oldest = Submission.objects.filter(phase=phase, team=team).order_by("created").first()
    choose(oldest, bob)
    return phase, team, alice, oldest


@pytest.mark.parametrize("url", [
    "/phases/{phase}/submit/",
    "/teams/{team}/",
    "/api/v1/phases/{phase}/submissions/",
])
def test_which_submission_counts_costs_the_same_queries_for_2_and_20(url):
    counts = []
    for n in (2, 20):
        phase, team, alice, _ = team_choosing(n)
        count, _ = counted(alice, url.format(phase=phase.id, team=team.id))
        counts.append(count)
    assert counts[0] == counts[1]


def test_the_lists_mark_the_chosen_and_the_best_submission_once_each():
    phase, team, alice, oldest = team_choosing(20)
    html = counted(alice, f"/teams/{team.id}/")[1].content.decode()
    # One marker per phase: the chosen one in the first, the best in the second.
    assert html.count('class="counts-marker"') == 2
    assert html.count("Count this submission on the leaderboard</button>") == 19
    _, response = counted(alice, f"/api/v1/phases/{phase.id}/submissions/?page_size=100")
    rows = response.json()["results"]
    assert [row["id"] for row in rows if row["counts"]] == [str(oldest.id)]
    assert [row["id"] for row in rows if row["selected"]] == [str(oldest.id)]


def test_the_organizers_list_costs_the_same_queries_for_2_and_12_entrants():
    counts = []
    for n in (2, 12):
        phase = factories.phase(show_scores=True, leaderboard_selection=Phase.SELECTED)
        organizer = factories.user()
        phase.challenge.organizers.add(organizer)
        for k in range(n):
            member = factories.participant(phase)
            if k % 2:  # teams and participants without one
                team = Team.objects.create(challenge=phase.challenge, name=f"team {k}")
                Participation.objects.filter(user=member).update(team=team)
            for _ in range(2):
                submission, _ = factories.submission(phase, member, state="succeeded",
                                                     aggregate=AGGREGATE)
                Submission.objects.filter(pk=submission.pk).update(
                    team=Participation.objects.get(user=member).team)
        count, response = counted(organizer, f"/api/v1/phases/{phase.id}/submissions/")
        assert sum(row["counts"] for row in response.json()["results"]) == n
        counts.append(count)
    assert counts[0] == counts[1]
