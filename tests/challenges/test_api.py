"""REST API: challenges, phases and joining."""

from datetime import timedelta

import pytest
from django.utils import timezone

from challenges.models import DeidReview, Participation, Task
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
        "name": "Test", "submission_kind": "predictions", "open": True,
        "held_for_review": False, "status": "open",
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


def test_phase_detail_gives_the_clinical_settings_of_its_kind_and_null_for_the_others():
    survival = factories.phase(survival_times=[365, 730.5], survival_tau=1500.0)
    survival.task.kind = Task.SURVIVAL
    survival.task.clinical = {"target": "overall_survival", "time_unit": "days"}
    survival.task.save()
    body = client_for().get(f"/api/v1/phases/{survival.id}/").json()
    assert (body["survival_times"], body["survival_tau"], body["classification_threshold"]) == (
        [365.0, 730.5], 1500.0, None)

    binary = factories.phase(classification_threshold=0.3)
    binary.task.kind = Task.CLASSIFICATION
    binary.task.clinical = {"target": "egfr", "classes": ["wild", "mutant"]}
    binary.task.save()
    body = client_for().get(f"/api/v1/phases/{binary.id}/").json()
    assert (body["survival_times"], body["survival_tau"], body["classification_threshold"]) == (
        None, None, 0.3)
    binary.task.clinical["classes"].append("other")  # three classes: no threshold applies
    binary.task.save()
    body = client_for().get(f"/api/v1/phases/{binary.id}/").json()
    assert body["classification_threshold"] is None

    segmentation = client_for().get(f"/api/v1/phases/{factories.phase().id}/").json()
    assert (segmentation["survival_times"], segmentation["survival_tau"],
            segmentation["classification_threshold"]) == (None, None, None)
    untruncated = factories.phase(survival_times=[])
    untruncated.task.kind = Task.SURVIVAL
    untruncated.task.save()
    body = client_for().get(f"/api/v1/phases/{untruncated.id}/").json()
    assert (body["survival_times"], body["survival_tau"]) == ([], None)


def test_a_phase_held_by_the_deidentification_gate_says_so_until_accepted(tmp_path):
    from tests.challenges.test_deid_gate import imported

    task = imported(tmp_path, descrip=b"Doe^Jane 1961", slug="held").task
    assert task.deid_review.status == DeidReview.FINDINGS
    phase = task.phases.get()
    clean = factories.phase(slug="clean")  # another challenge's phase: not held
    detail = client_for().get(f"/api/v1/phases/{phase.id}/").json()
    summary = client_for().get("/api/v1/challenges/held/").json()["phases"][0]
    for body in (detail, summary):
        assert (body["held_for_review"], body["open"], body["status"]) == (True, False, "held")
    listed = {c["slug"]: c["phases"][0]
              for c in client_for().get("/api/v1/challenges/").json()["results"]}
    assert listed["held"]["status"] == "held" and listed["clean"]["status"] == "open"
    assert client_for().get(f"/api/v1/phases/{clean.id}/").json()["held_for_review"] is False

    review = task.deid_review
    review.status = DeidReview.ACCEPTED  # as deid_gate.accept records it
    review.save()
    body = client_for().get(f"/api/v1/phases/{phase.id}/").json()
    assert (body["held_for_review"], body["open"], body["status"]) == (False, True, "open")
