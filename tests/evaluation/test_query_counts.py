"""Submission lists cost the same queries for 2 submissions as for 20 (no query per row), and a
phase's organizer lists all of its submissions through the API."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from challenges.models import Participation
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
    listed = response.json()
    assert len(listed) == 2
    for row in listed:
        assert row["state"] == "failed"  # the newest evaluation
        assert row["results"]["aggregate"] == AGGREGATE  # the newest succeeded one
        assert "cases" not in row["results"]


def test_the_organizer_lists_every_submission_of_the_phase_and_a_participant_what_they_see():
    phase, participant, organizer = phase_with(3)
    _, response = counted(organizer, f"/api/v1/phases/{phase.id}/submissions/")
    assert len(response.json()) == 4
    _, response = counted(participant, f"/api/v1/phases/{phase.id}/submissions/")
    assert len(response.json()) == 3
    Participation.objects.filter(user=participant).update(status=Participation.REJECTED)
    client = Client()
    client.force_login(participant)
    assert client.get(f"/api/v1/phases/{phase.id}/submissions/").json() == []
