"""REST API: challenges, phases and joining."""

from datetime import timedelta

import pytest
from django.utils import timezone

from challenges.models import Participation
from tests import factories
from tests.factories import api_client as client_for

pytestmark = pytest.mark.django_db


def test_challenge_list_shows_published_challenges_with_their_phases():
    phase = factories.phase(slug="visible")
    hidden = factories.phase(slug="hidden")
    hidden.task.challenge.is_published = False
    hidden.task.challenge.save()
    page = client_for().get("/api/v1/challenges/").json()
    assert (page["count"], page["next"], page["previous"]) == (1, None, None)
    body = page["results"]
    assert [c["slug"] for c in body] == ["visible"]
    assert body[0]["id"] == str(phase.task.challenge_id)
    assert body[0]["phases"] == [{
        "id": str(phase.id), "task": "Task01_Test", "task_id": str(phase.task_id),
        "name": "Test", "submission_kind": "predictions", "open": True, "status": "open",
    }]


def test_a_closed_phase_says_so_in_open_and_in_its_deprecated_alias_status():
    phase = factories.phase(closes_at=timezone.now() - timedelta(days=1))
    summary = client_for().get("/api/v1/challenges/").json()["results"][0]["phases"][0]
    detail = client_for().get(f"/api/v1/phases/{phase.id}/").json()
    for body in (summary, detail):
        assert (body["open"], body["status"]) == (False, "closed")


def test_phase_detail_describes_task_and_scoring_without_ground_truth_paths():
    phase = factories.phase()
    body = client_for().get(f"/api/v1/phases/{phase.id}/").json()
    assert body["task_detail"]["cases"] == ["case_a", "case_b"]
    assert body["metrics"] == ["dice", "nsd", "hd", "hd95", "assd"]
    assert body["ground_truth_version"] == 1
    assert "groundtruth/" not in str(body)


def test_unpublished_phase_is_not_found_for_the_public():
    phase = factories.phase()
    phase.task.challenge.is_published = False
    phase.task.challenge.save()
    assert client_for().get(f"/api/v1/phases/{phase.id}/").status_code == 404


def test_join_accepts_or_waits_for_approval():
    phase = factories.phase()
    challenge = phase.task.challenge
    user = factories.user()
    response = client_for(user).post(f"/api/v1/challenges/{challenge.id}/join/")
    assert response.status_code == 201
    assert response.json()["status"] == "accepted"
    again = client_for(user).post(f"/api/v1/challenges/{challenge.slug}/join/")
    assert again.status_code == 200 and again.json()["id"] == response.json()["id"]

    challenge.requires_approval = True
    challenge.save()
    other = factories.user()
    assert client_for(other).post(f"/api/v1/challenges/{challenge.id}/join/").json()[
        "status"] == "pending"
    assert Participation.objects.get(user=other).status == Participation.PENDING


def test_join_needs_authentication_and_refuses_declined_terms():
    phase = factories.phase()
    url = f"/api/v1/challenges/{phase.task.challenge_id}/join/"
    assert client_for().post(url).status_code == 401
    response = client_for(factories.user()).post(url, {"accept_terms": False}, format="json")
    assert response.status_code == 400 and "terms" in response.json()["detail"]
