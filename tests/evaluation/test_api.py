"""REST API: submitting and reading submissions, with the phase's visibility rules."""

import pytest
from django.test import Client

from evaluation.models import ACTIVE_STATES, TERMINAL_STATES, Evaluation
from evaluation.services import scoring
from tests import factories
from tests.factories import api_client as client_for

from .helpers import cube_phase, cube_predictions_zip

pytestmark = pytest.mark.django_db


def post(client, phase, path):
    with open(path, "rb") as fh:
        return client.post(f"/api/v1/phases/{phase.id}/submissions/", {"file": fh},
                           format="multipart")


@pytest.fixture
def scored(tmp_path):
    phase = cube_phase(tmp_path, show_case_results=True)
    user = factories.participant(phase, "alice")
    response = post(client_for(user), phase, cube_predictions_zip(tmp_path))
    assert response.status_code == 201
    assert response.json()["state"] == response.json()["status"] == "queued"  # and its alias
    evaluation = Evaluation.objects.get(submission_id=response.json()["id"])
    scoring.score(evaluation.id, worker="t")
    return phase, user, response.json()["id"]


def test_results_follow_the_contract(scored):
    _phase, user, submission_id = scored
    body = client_for(user).get(f"/api/v1/submissions/{submission_id}/").json()
    assert body["state"] == "succeeded" and body["message"] == "Scored 2 cases."
    assert body["status"] == body["state"]  # the deprecated alias, until the next release
    assert body["active"] is False
    assert set(body["results"]["aggregate"]) == {"1", "2"}
    assert set(body["results"]["aggregate"]["1"]) == {"dice", "nsd", "hd", "hd95", "assd"}
    assert body["results"]["cases"][0] == {
        "case": "cube_000", "label": 1, "label_name": "big", "missing": False,
        **{k: body["results"]["cases"][0][k] for k in ("dice", "nsd", "hd", "hd95", "assd")},
    }
    assert body["results"]["cases"][0]["dice"] == pytest.approx(0.9)


def test_hidden_case_results_and_scores(scored):
    phase, user, submission_id = scored
    phase.show_case_results = False
    phase.save()
    body = client_for(user).get(f"/api/v1/submissions/{submission_id}/").json()
    assert "cases" not in body["results"] and body["results"]["aggregate"]
    phase.show_scores = False
    phase.save()
    body = client_for(user).get(f"/api/v1/submissions/{submission_id}/").json()
    assert "results" not in body and body["state"] == "succeeded"
    board = client_for().get(f"/api/v1/phases/{phase.id}/leaderboard/").json()
    assert all("score" not in e and "aggregate" not in e for e in board["entries"])


def test_other_participants_cannot_see_a_submission(scored):
    phase, _, submission_id = scored
    stranger = factories.participant(phase, "mallory")
    assert client_for(stranger).get(f"/api/v1/submissions/{submission_id}/").status_code == 404
    assert client_for().get(f"/api/v1/submissions/{submission_id}/").status_code == 401


def test_bad_upload_answers_400_with_the_reason(tmp_path):
    phase = cube_phase(tmp_path)
    user = factories.participant(phase)
    response = post(client_for(user), phase, cube_predictions_zip(tmp_path, cases=["cube_000"]))
    assert response.status_code == 400
    assert response.json() == {"detail": "1 test case has no prediction: cube_001 (expected one "
                                         "file per case, e.g. cube_000.nii.gz)"}
    missing_field = client_for(user).post(f"/api/v1/phases/{phase.id}/submissions/", {},
                                          format="multipart")
    assert missing_field.status_code == 400 and '"file"' in missing_field.json()["detail"]


def test_limit_answers_429_and_non_participant_403(tmp_path):
    phase = cube_phase(tmp_path, submission_limit=1)
    user = factories.participant(phase)
    assert post(client_for(user), phase, cube_predictions_zip(tmp_path)).status_code == 201
    second = post(client_for(user), phase, cube_predictions_zip(tmp_path))
    assert second.status_code == 429 and "limit reached" in second.json()["detail"]
    outsider = post(client_for(factories.user()), phase, cube_predictions_zip(tmp_path))
    assert outsider.status_code == 403


def test_listing_and_cancelling_own_submissions(tmp_path):
    phase = cube_phase(tmp_path)
    user = factories.participant(phase)
    client = client_for(user)
    submission_id = post(client, phase, cube_predictions_zip(tmp_path)).json()["id"]
    listed = client.get(f"/api/v1/phases/{phase.id}/submissions/").json()["results"]
    assert [s["id"] for s in listed] == [submission_id] and listed[0]["state"] == "queued"
    assert listed[0]["active"] is True
    cancelled = client.post(f"/api/v1/submissions/{submission_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["active"] is False
    again = client.post(f"/api/v1/submissions/{submission_id}/cancel/")
    assert again.status_code == 409


@pytest.mark.parametrize("state, active", [(state, True) for state in ACTIVE_STATES]
                         + [(state, False) for state in TERMINAL_STATES])
def test_pages_mark_a_submission_active_as_the_api_does(tmp_path, state, active):
    """The pages' reload script reads ``data-active``, which says what the API's ``active``
    says; the Cancel button shows exactly while the submission is active."""
    phase = cube_phase(tmp_path)
    user = factories.participant(phase)
    submission, _ = factories.submission(phase, user, state=state)
    assert client_for(user).get(f"/api/v1/submissions/{submission.id}/").json()["active"] is active
    client = Client()
    client.force_login(user)
    marker = f'data-active="{str(active).lower()}"'
    listing = client.get(f"/phases/{phase.id}/submit/").content.decode()
    page = client.get(f"/submissions/{submission.id}/").content.decode()
    assert marker in listing and marker in page
    assert (f"/submissions/{submission.id}/cancel/" in page) is active
