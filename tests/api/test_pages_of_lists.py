"""Every list comes in pages ({count, next, previous, results}, next a link to follow), and a
phase's submissions can be filtered by state, team and date and ordered by date."""

from datetime import timedelta

import pytest
from django.utils import timezone

from challenges.models import Challenge, Participation, Team
from evaluation.models import Submission
from tests import factories
from tests.factories import api_client

pytestmark = pytest.mark.django_db


def follow(client, url: str) -> tuple[list, list[dict]]:
    """Every page of a list from ``url`` on, by its next links: (the items, the pages)."""
    items, pages = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        pages.append(page)
        items += page["results"]
        url = page["next"]
    return items, pages


def test_the_challenge_list_comes_in_pages_linked_by_next_and_previous():
    for k in range(5):
        Challenge.objects.create(slug=f"listed-{k}", title=f"C{k}", is_published=True)
    client = api_client()
    items, pages = follow(client, "/api/v1/challenges/?page_size=2")
    assert [c["slug"] for c in items] == [f"listed-{k}" for k in (4, 3, 2, 1, 0)]  # newest first
    assert [len(p["results"]) for p in pages] == [2, 2, 1]
    assert {p["count"] for p in pages} == {5}
    assert pages[0]["previous"] is None and pages[-1]["next"] is None
    assert pages[1]["next"] == "http://testserver/api/v1/challenges/?page=3&page_size=2"
    # The first page's link carries no page number: the same URL a client starts from.
    assert pages[1]["previous"] == "http://testserver/api/v1/challenges/?page_size=2"


@pytest.mark.parametrize("query, message", [
    ("page=0", "page: Ensure this value is greater than or equal to 1."),
    ("page=two", "page: A valid integer is required."),
    ("page=", "page: A valid integer is required."),
    ("page_size=101", "page_size: Ensure this value is less than or equal to 100."),
    ("page=" + "9" * 5000, "page: "),
])
def test_a_malformed_page_answers_400_naming_the_parameter(query, message):
    response = api_client().get(f"/api/v1/challenges/?{query}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)


def test_a_page_past_the_end_answers_404_with_the_number_of_pages():
    Challenge.objects.create(slug="only", title="Only", is_published=True)
    response = api_client().get("/api/v1/challenges/?page=3")
    assert response.status_code == 404
    assert response.json() == {"detail": "page 3 does not exist: the list has 1 page of 50"}


@pytest.fixture
def submissions():
    """A phase's organizer and six submissions: three of team "red" (one succeeded, two
    failed), three of a participant without a team (queued), a day apart each."""
    phase = factories.phase()
    organizer = factories.user()
    phase.task.challenge.organizers.add(organizer)
    red = Team.objects.create(challenge=phase.task.challenge, name="red")
    member, solo = factories.participant(phase), factories.participant(phase)
    Participation.objects.filter(user=member).update(team=red)
    start = timezone.now() - timedelta(days=10)
    made = []
    for k, (creator, state) in enumerate([(member, "succeeded"), (solo, "queued"),
                                          (member, "failed"), (solo, "queued"),
                                          (member, "failed"), (solo, "queued")]):
        submission, _ = factories.submission(phase, creator, state=state)
        Submission.objects.filter(pk=submission.pk).update(
            team=red if creator == member else None, created=start + timedelta(days=k))
        made.append(str(submission.id))
    return phase, organizer, solo, made, start


def listed(client, phase, query: str = "") -> list[str]:
    items, _ = follow(client, f"/api/v1/phases/{phase.id}/submissions/?page_size=2&{query}")
    return [item["id"] for item in items]


def test_submissions_filter_by_state_team_and_dates_and_order_by_date(submissions):
    phase, organizer, solo, made, start = submissions
    client = api_client(organizer)
    assert listed(client, phase) == made[::-1]  # newest first
    assert listed(client, phase, "ordering=created") == made
    assert listed(client, phase, "state=failed") == [made[4], made[2]]
    assert listed(client, phase, "team=red&ordering=created") == [made[0], made[2], made[4]]
    after, before = start + timedelta(days=1), start + timedelta(days=3)
    window = {"created_after": after.isoformat(), "created_before": before.isoformat()}
    query = "&".join(f"{k}={v.replace('+', '%2B')}" for k, v in window.items())
    assert listed(client, phase, query) == [made[2], made[1]]  # after inclusive, before not
    assert listed(client, phase, "state=succeeded&team=red") == [made[0]]
    assert listed(client, phase, "team=blue") == []
    # A participant filters only their own submissions.
    assert listed(api_client(solo), phase, "state=queued") == [made[5], made[3], made[1]]


@pytest.mark.parametrize("query, message", [
    ("state=done", 'state: "done" is not a valid choice.'),
    ("ordering=file_name", 'ordering: "file_name" is not a valid choice.'),
    ("ordering=", 'ordering: "" is not a valid choice.'),
    ("created_after=yesterday", "created_after: Datetime has wrong format."),
    ("team=" + "x" * 101, "team: Ensure this field has no more than 100 characters."),
])
def test_a_malformed_filter_answers_400_naming_it(submissions, query, message):
    phase, organizer, *_ = submissions
    response = api_client(organizer).get(f"/api/v1/phases/{phase.id}/submissions/?{query}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)
