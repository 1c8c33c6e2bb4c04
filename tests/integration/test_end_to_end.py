"""End to end with a real Celery worker process: import → API upload → scoring → leaderboard.

Marked ``stack``: runs on the embedded default and again on PostgreSQL + Redis.
"""

import os

import pytest
from django.db import connection
from rest_framework.test import APIClient

from evaluation.models import Evaluation, State
from tests import factories
from tests.conftest import wait_for
from tests.evaluation.helpers import cube_phase, cube_predictions_zip, prediction_zip
from tests.factories import api_client as client_for

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def upload(client, phase, path):
    with open(path, "rb") as fh:
        response = client.post(f"/api/v1/phases/{phase.id}/submissions/", {"file": fh},
                               format="multipart")
    assert response.status_code == 201, response.content
    assert response.json() == {"id": response.json()["id"], "state": "queued",
                               "status": "queued"}  # "status": the deprecated alias
    return response.json()["id"]


def finished(client, submission_id):
    body = client.get(f"/api/v1/submissions/{submission_id}/").json()
    return None if body["active"] else body


def test_stack_is_what_this_run_claims(settings):
    """The PostgreSQL + Redis pass really runs on PostgreSQL and Redis."""
    if os.environ.get("PODIUM_EXPECT_STACK"):
        assert connection.vendor == "postgresql"
        assert settings.CELERY_BROKER_URL.startswith("redis://")
    else:
        assert connection.vendor == "sqlite"
        assert settings.CELERY_BROKER_URL == "podiumfs://"


def test_upload_is_scored_by_the_worker_and_ranked(celery_worker, tmp_path):
    phase = cube_phase(tmp_path, show_case_results=True)
    good, poor = factories.participant(phase, "good"), factories.participant(phase, "poor")
    good_client, poor_client = client_for(good), client_for(poor)
    _ref, pred, spacing = factories.cube_labels()
    poor_pred = pred.copy()
    poor_pred[pred == 2] = 0  # misses the small structure entirely
    good_id = upload(good_client, phase, cube_predictions_zip(tmp_path))
    poor_id = upload(poor_client, phase, prediction_zip(
        tmp_path / "poor.zip", {"cube_000": poor_pred, "cube_001": poor_pred}, spacing))

    body = wait_for(lambda: finished(good_client, good_id), timeout=120, what="scoring")
    assert body["state"] == "succeeded", body["message"]
    assert body["results"]["aggregate"]["1"]["dice"] == pytest.approx(0.9, abs=1e-12)
    assert body["results"]["aggregate"]["2"]["dice"] == pytest.approx(2 / 3, abs=1e-12)
    cases = body["results"]["cases"]
    assert {(c["case"], c["label"]) for c in cases} == {
        ("cube_000", 1), ("cube_000", 2), ("cube_001", 1), ("cube_001", 2)}
    assert all(set(c) == {"case", "label", "label_name", "dice", "nsd", "hd", "hd95", "assd",
                          "missing"} for c in cases)
    poor_body = wait_for(lambda: finished(poor_client, poor_id), timeout=120, what="scoring")
    assert poor_body["results"]["cases"][1]["hd"] is None  # undefined → null

    def board():
        entries = APIClient().get(f"/api/v1/phases/{phase.id}/leaderboard/").json()["entries"]
        return entries if len(entries) == 2 else None

    entries = wait_for(board, timeout=60, what="the leaderboard snapshot")
    assert [(e["rank"], e["entrant"]) for e in entries] == [(1, "good"), (2, "poor")]
    assert entries[0]["score"] == pytest.approx((0.9 + 2 / 3) / 2)
    assert entries[1]["score"] == pytest.approx(0.45)
    evaluation = Evaluation.objects.get(submission_id=good_id)
    assert evaluation.state == State.SUCCEEDED and evaluation.worker.startswith("session-")
