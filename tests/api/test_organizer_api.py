"""The organizer endpoints (/api/v1/organizer/): each does what the console's action does, with
the console's validation and the console's audit log; only the challenge's organizers may act
(404 where the caller cannot see the challenge, 403 where they can); no answer carries a label
or a storage path."""

from dataclasses import dataclass

import pytest
import schemathesis
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.forms import SplitDateTimeField
from django.test import Client
from rest_framework.test import APIClient

from challenges.models import Challenge, GroundTruth, Participation, Phase, Task
from evaluation.models import ACTIVE_STATES, Evaluation, State, Submission
from leaderboard.models import LeaderboardSnapshot
from tests import factories
from tests.api.test_schemathesis import EXCLUDED, _one_connection, served  # noqa: F401

pytestmark = pytest.mark.django_db

API = "/api/v1/organizer"
LABEL_PATH = "groundtruth/x/"  # the factory's storage paths of the hidden labels


@dataclass
class Org:
    phase: Phase
    organizer: object
    participant: object
    submission: object

    @property
    def challenge(self) -> Challenge:
        return self.phase.task.challenge


def staff(username: str):
    """A staff user who is no platform administrator: the console opens, nothing in it."""
    return get_user_model().objects.create_user(username=username, password="pw",
                                                is_staff=True)


@pytest.fixture
def org() -> Org:
    phase = factories.phase(slug="org", cases=("case_a", "case_b", "case_c"))
    task = phase.task
    task.labels = {"0": "background", "1": "liver", "2": "tumour"}
    task.save()
    organizer = staff("org-organizer")
    phase.task.challenge.organizers.add(organizer)
    participant = factories.participant(phase, "org-participant")
    submission, _ = factories.submission(phase, participant, state="succeeded")
    Submission.objects.filter(pk=submission.pk).update(is_valid=True)  # its upload was checked
    return Org(Phase.objects.get(pk=phase.pk), organizer, participant, submission)


def api(user) -> APIClient:
    return factories.api_client(user)


def audited(row) -> list[str]:
    return [entry.get_change_message() for entry in
            LogEntry.objects.filter(object_id=str(row.pk)).order_by("action_time", "pk")]


def no_secret(response) -> None:
    assert LABEL_PATH not in response.content.decode()
    assert '"files"' not in response.content.decode()


# --- phase configuration ---------------------------------------------------------------------

def test_configuration_reads_the_console_settings_with_tolerances_by_label_name(org):
    answer = api(org.organizer).get(f"{API}/phases/{org.phase.id}/configuration/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["nsd_tolerance_mm"] == {"liver": 1.0, "tumour": 1.0}
    assert body["metrics"] == org.phase.scored_metrics()
    assert body["ranking_method"] == "aggregate-mean"
    assert body["ground_truth_version"] == 1
    assert "algorithm_cpus" not in body  # a predictions phase has no container limits
    assert "iou_threshold" not in body  # nor detection settings
    no_secret(answer)


def test_a_change_is_saved_audited_and_requeues_on_a_new_scoring_configuration(org):
    answer = api(org.organizer).patch(
        f"{API}/phases/{org.phase.id}/configuration/",
        {"nsd_tolerance_mm": {"tumour": 2.5}, "metrics": ["dice", "nsd"], "is_public": False,
         "submission_limit": 3, "closes_at": "2030-01-01T00:00:00Z",
         "show_case_results": True}, format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    phase = Phase.objects.get(pk=org.phase.pk)
    assert phase.nsd_tolerance_mm == {"1": 1.0, "2": 2.5}
    assert phase.metrics == ["dice", "nsd"]
    assert (phase.is_public, phase.submission_limit) == (False, 3)
    assert phase.closes_at.year == 2030
    assert body["nsd_tolerance_mm"] == {"liver": 1.0, "tumour": 2.5}
    assert body["queued"] == 1
    assert "oracle" in body["warnings"][0]
    assert org.submission.evaluations.filter(state=State.QUEUED).count() == 1
    changes, requeued = audited(phase)
    assert changes == ("Changed metrics, NSD tolerance, tumour (mm), Submission limit, Closes "
                       "at, Is public and Show case results.")
    assert requeued == ("The scoring configuration changed: 1 submissions queued to be "
                        "scored with it.")


def test_a_change_of_visibility_only_requeues_nothing(org):
    answer = api(org.organizer).patch(f"{API}/phases/{org.phase.id}/configuration/",
                                      {"show_scores": False}, format="json")
    assert answer.status_code == 200
    assert answer.json()["queued"] == 0
    assert not Evaluation.objects.filter(state=State.QUEUED).exists()
    assert len(audited(org.phase)) == 1


def console_errors(organizer, phase: Phase, changes: dict) -> dict:
    """The errors the console's phase form gives for ``changes`` posted on its page."""
    client = Client()
    client.force_login(organizer)
    url = f"/admin/challenges/phase/{phase.pk}/change/"
    form = client.get(url).context["adminform"].form
    data: dict = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, SplitDateTimeField):
            data.update({f"{name}_0": "", f"{name}_1": ""})
        elif value is True:
            data[name] = "on"
        elif value is not False:
            data[name] = "" if value is None else value
    data.update(changes)
    page = client.post(url, data)
    assert page.status_code == 200, "the console accepted the change"
    return dict(page.context["adminform"].form.errors)


@pytest.mark.parametrize(("api_changes", "console_changes"), [
    ({"submission_limit": 0}, {"submission_limit": "0"}),
    ({"primary_metric": "accuracy"}, {"primary_metric": "accuracy"}),
    ({"metrics": ["dice", "kappa"]}, {"metrics": ["dice", "kappa"]}),
    ({"ranking_alpha": 0.9}, {"ranking_alpha": "0.9"}),
    ({"public_score_decimals": 9}, {"public_score_decimals": "9"}),
    ({"limit_period": "month"}, {"limit_period": "month"}),
    ({"nsd_tolerance_mm": {"tumour": -1}}, {"nsd_tolerance_2": "-1"}),
    ({"opens_at": "2030-02-01T00:00:00Z", "closes_at": "2030-01-01T00:00:00Z"},
     {"opens_at_0": "2030-02-01", "opens_at_1": "00:00:00",
      "closes_at_0": "2030-01-01", "closes_at_1": "00:00:00"}),
])
def test_refusals_are_the_console_forms_own(org, api_changes, console_changes):
    expected = console_errors(org.organizer, org.phase, console_changes)
    assert expected
    answer = api(org.organizer).patch(f"{API}/phases/{org.phase.id}/configuration/",
                                      api_changes, format="json")
    assert answer.status_code == 400
    names = {"nsd_tolerance_2": "nsd_tolerance_mm.tumour"}
    assert answer.json()["detail"] == "; ".join(
        f"{names.get(field, field)}: {' '.join(messages)}" for field, messages in expected.items())
    assert Phase.objects.get(pk=org.phase.pk).submission_limit is None  # nothing saved
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize(("body", "message"), [
    ({"iou_threshold": 0.5}, "not a setting of this phase: iou_threshold"),
    ({"nsd_tolerance_mm": {"spleen": 1.0}}, "not a setting of this phase: "
                                            "nsd_tolerance_mm.spleen"),
    ({"ground_truth_version": 2}, "not a setting that can be changed: ground_truth_version"),
    ({"is_public": "perhaps"}, "is_public: Must be a valid boolean."),
    ([{"is_public": False}], "send a JSON object"),
])
def test_settings_the_phase_does_not_have_are_refused_by_name(org, body, message):
    answer = api(org.organizer).patch(f"{API}/phases/{org.phase.id}/configuration/", body,
                                      format="json")
    assert answer.status_code == 400
    assert message in answer.json()["detail"]


def test_an_algorithm_phase_has_the_consoles_container_limits(org):
    Phase.objects.filter(pk=org.phase.pk).update(submission_kind=Phase.ALGORITHM)
    phase = Phase.objects.get(pk=org.phase.pk)
    client = api(org.organizer)
    url = f"{API}/phases/{phase.id}/configuration/"
    body = client.get(url).json()
    assert (body["algorithm_cpus"], body["show_algorithm_logs"]) == (4.0, False)
    expected = console_errors(org.organizer, phase, {"algorithm_cpus": "0.05"})
    answer = client.patch(url, {"algorithm_cpus": 0.05}, format="json")
    assert answer.json()["detail"] == f"algorithm_cpus: {expected['algorithm_cpus'][0]}"
    changed = client.patch(url, {"algorithm_memory_mb": 2048, "show_algorithm_logs": True},
                           format="json")
    assert changed.status_code == 200
    assert Phase.objects.filter(pk=phase.pk, algorithm_memory_mb=2048,
                                show_algorithm_logs=True).exists()


def test_a_detection_phase_has_the_consoles_detection_settings(org):
    task = Task.objects.create(challenge=org.challenge, key="Task10_Boxes", name="Boxes",
                               kind=Task.DETECTION, labels={"0": "nodule", "1": "mass"},
                               cases=[{"name": "img_000", "image": None,
                                       "geometry": {"width": 64, "height": 64}}])
    truth = GroundTruth.objects.create(task=task, version=1, content_sha256="1" * 64,
                                       files={"img_000": {"path": f"{LABEL_PATH}img.xml"}})
    phase = Phase.objects.create(task=task, active_ground_truth=truth, primary_metric="mAP")
    client = api(org.organizer)
    url = f"{API}/phases/{phase.id}/configuration/"
    body = client.get(url).json()
    assert (body["iou_threshold"], body["primary_metric"]) == (0.5, "mAP")
    assert "metrics" not in body and "nsd_tolerance_mm" not in body
    expected = console_errors(org.organizer, phase, {"iou_threshold": "1.5"})
    answer = client.patch(url, {"iou_threshold": 1.5}, format="json")
    assert answer.json()["detail"] == f"iou_threshold: {expected['iou_threshold'][0]}"
    refused = client.patch(url, {"nsd_tolerance_mm": {"mass": 1.0}}, format="json")
    assert refused.json()["detail"].startswith("not a setting of this phase: nsd_tolerance_mm;")
    changed = client.patch(url, {"iou_threshold": 0.3}, format="json").json()
    assert changed["queued"] == 0  # no submission yet
    assert Phase.objects.get(pk=phase.pk).iou_threshold == 0.3


def test_a_name_another_phase_of_the_task_has_is_refused_not_a_server_error(org):
    Phase.objects.create(task=org.phase.task, name="Final")
    answer = api(org.organizer).patch(f"{API}/phases/{org.phase.id}/configuration/",
                                      {"name": "Final"}, format="json")
    assert answer.status_code == 400
    assert answer.json()["detail"] == (
        f"name: The task {org.phase.task.key} already has a phase named 'Final'.")
    assert Phase.objects.get(pk=org.phase.pk).name == "Test"


# --- who may act -----------------------------------------------------------------------------

def operations(org: Org) -> list[tuple[str, str, dict | None]]:
    phase, key = org.phase.id, org.challenge.slug
    ids = {"ids": [str(org.submission.id)]}
    return [
        ("get", f"{API}/phases/{phase}/configuration/", None),
        ("patch", f"{API}/phases/{phase}/configuration/", {"is_public": False}),
        ("get", f"{API}/challenges/{key}/participants/", None),
        ("post", f"{API}/challenges/{key}/participants/approve/",
         {"ids": [str(Participation.objects.get(user=org.participant).id)]}),
        ("post", f"{API}/challenges/{key}/participants/reject/",
         {"ids": [str(Participation.objects.get(user=org.participant).id)]}),
        ("get", f"{API}/phases/{phase}/submissions/", None),
        ("post", f"{API}/phases/{phase}/submissions/reevaluate/", ids),
        ("post", f"{API}/phases/{phase}/submissions/cancel/", ids),
        ("get", f"{API}/phases/{phase}/ground-truths/", None),
        ("post", f"{API}/phases/{phase}/ground-truths/activate/", {"version": 1}),
        ("post", f"{API}/phases/{phase}/leaderboard/publish/", None),
        ("post", f"{API}/phases/{phase}/leaderboard/unpublish/", None),
        ("post", f"{API}/phases/{phase}/leaderboard/recompute/", None),
    ]


@pytest.mark.parametrize("who", ["participant", "staff", "other organizer"])
@pytest.mark.parametrize(("published", "status"), [(True, 403), (False, 404)])
def test_only_the_challenges_organizers_may_act(org, who, published, status):
    Challenge.objects.filter(pk=org.challenge.pk).update(is_published=published)
    other = factories.phase(slug="other-challenge")
    users = {"participant": org.participant, "staff": staff("org-staff"),
             "other organizer": staff("org-other")}
    other.task.challenge.organizers.add(users["other organizer"])
    client = api(users[who])
    for method, url, body in operations(org):
        answer = getattr(client, method)(url, body, format="json")
        assert answer.status_code == status, (method, url, answer.content)
    assert not LogEntry.objects.exists()
    assert Phase.objects.get(pk=org.phase.pk).is_public
    assert not Evaluation.objects.filter(state__in=ACTIVE_STATES).exists()


def test_anonymous_callers_are_asked_to_log_in(org):
    for method, url, body in operations(org):
        answer = getattr(APIClient(), method)(url, body, format="json")
        assert answer.status_code == 401, (method, url)


def test_a_platform_administrator_acts_as_organizer(org):
    admin = factories.user("org-admin", staff=True)
    answer = api(admin).get(f"{API}/phases/{org.phase.id}/configuration/")
    assert answer.status_code == 200


# --- participants ----------------------------------------------------------------------------

def test_participants_are_listed_by_status_and_approved_or_rejected_in_bulk(org):
    pending = [factories.participant(org.phase, f"org-p{k}", status=Participation.PENDING)
               for k in range(3)]
    client = api(org.organizer)
    url = f"{API}/challenges/{org.challenge.slug}/participants/"
    listed = client.get(url, {"status": "pending"}).json()
    assert listed["count"] == 3
    assert {row["username"] for row in listed["results"]} == {"org-p0", "org-p1", "org-p2"}
    assert client.get(url, {"status": "maybe"}).status_code == 400

    ids = [str(Participation.objects.get(user=user).id) for user in pending]
    approved = client.post(f"{url}approve/", {"ids": ids[:2]}, format="json")
    assert approved.status_code == 200
    assert approved.json()["changed"] == 2
    assert [row["status"] for row in approved.json()["participants"]] == ["accepted"] * 2
    again = client.post(f"{url}approve/", {"ids": ids[:2]}, format="json").json()
    assert again["changed"] == 0

    rejected = client.post(f"{url}reject/", {"ids": [ids[0], ids[2]]}, format="json").json()
    assert rejected["changed"] == 2
    statuses = dict(Participation.objects.filter(pk__in=ids).values_list("id", "status"))
    assert [statuses[Participation.objects.get(user=user).id] for user in pending] == [
        "rejected", "accepted", "rejected"]
    first, second, third = (Participation.objects.get(user=user) for user in pending)
    assert audited(first) == ["Approved.", "Rejected."]
    assert audited(second) == ["Approved."]
    assert audited(third) == ["Rejected."]
    assert LogEntry.objects.filter(object_repr__contains="(rejected)").count() == 2


def test_approving_names_only_this_challenges_participants(org):
    other = factories.phase(slug="org-elsewhere")
    stranger = factories.participant(other, "org-stranger", status=Participation.PENDING)
    stranger_id = str(Participation.objects.get(user=stranger).id)
    answer = api(org.organizer).post(
        f"{API}/challenges/{org.challenge.slug}/participants/approve/", {"ids": [stranger_id]},
        format="json")
    assert answer.status_code == 400
    assert stranger_id in answer.json()["detail"]
    assert Participation.objects.get(user=stranger).status == Participation.PENDING
    for body in ({"ids": []}, {"ids": ["not-a-uuid"]}, {}):
        assert api(org.organizer).post(
            f"{API}/challenges/{org.challenge.slug}/participants/approve/", body,
            format="json").status_code == 400


# --- submissions -----------------------------------------------------------------------------

def test_all_submissions_are_listed_with_their_submitters_and_filters(org):
    other = factories.participant(org.phase, "org-other-participant")
    factories.submission(org.phase, other, state="failed")
    client = api(org.organizer)
    url = f"{API}/phases/{org.phase.id}/submissions/"
    everything = client.get(url).json()
    assert everything["count"] == 2
    assert {row["creator"] for row in everything["results"]} == {"org-participant",
                                                                  "org-other-participant"}
    failed = client.get(url, {"state": "failed"}).json()["results"]
    assert [(row["creator"], row["entrant"], row["team"]) for row in failed] == [
        ("org-other-participant", "org-other-participant", None)]
    oldest = client.get(url, {"ordering": "created"}).json()["results"]
    assert oldest[0]["id"] == str(org.submission.id)
    assert client.get(url, {"created_after": "soon"}).status_code == 400
    no_secret(client.get(url))


def test_reevaluating_and_cancelling_as_the_console_does(org):
    client = api(org.organizer)
    ids = {"ids": [str(org.submission.id)]}
    queued = client.post(f"{API}/phases/{org.phase.id}/submissions/reevaluate/", ids,
                         format="json")
    assert queued.status_code == 200
    assert queued.json()["queued"] == 1
    assert queued.json()["submissions"][0]["state"] == State.QUEUED
    assert org.submission.evaluations.count() == 2

    cancelled = client.post(f"{API}/phases/{org.phase.id}/submissions/cancel/", ids,
                            format="json")
    assert cancelled.json()["cancelled"] == 1
    assert cancelled.json()["submissions"][0]["state"] == State.CANCELLED
    again = client.post(f"{API}/phases/{org.phase.id}/submissions/cancel/", ids,
                        format="json").json()
    assert again["cancelled"] == 0
    assert audited(org.submission) == ["Re-evaluation requested.", "Evaluation cancelled."]


def test_a_submission_of_another_phase_is_refused(org):
    other = factories.phase(slug="org-far")
    elsewhere, _ = factories.submission(other, factories.participant(other, "org-far-p"))
    answer = api(org.organizer).post(f"{API}/phases/{org.phase.id}/submissions/reevaluate/",
                                     {"ids": [str(elsewhere.id)]}, format="json")
    assert answer.status_code == 400
    assert str(elsewhere.id) in answer.json()["detail"]
    assert elsewhere.evaluations.count() == 1


# --- leaderboard -----------------------------------------------------------------------------

def test_publishing_hiding_and_recomputing_the_leaderboard(org):
    client = api(org.organizer)
    base = f"{API}/phases/{org.phase.id}/leaderboard"
    hidden = client.post(f"{base}/unpublish/")
    assert hidden.status_code == 200
    assert hidden.json()["is_public"] is False
    assert api(org.participant).get(
        f"/api/v1/phases/{org.phase.id}/leaderboard/").status_code == 404
    assert client.post(f"{base}/publish/").json()["is_public"] is True
    assert Phase.objects.get(pk=org.phase.pk).is_public
    recompute = client.post(f"{base}/recompute/")
    assert recompute.status_code == 202
    assert LeaderboardSnapshot.objects.get(phase=org.phase).refresh_requested_at is not None
    assert audited(org.phase) == ["Unpublished the leaderboard.", "Published the leaderboard.",
                                  "Asked to recompute the leaderboard."]


def test_api_actions_appear_in_the_consoles_audit_log(org):
    api(org.organizer).post(f"{API}/phases/{org.phase.id}/leaderboard/unpublish/")
    console = Client()
    console.force_login(org.organizer)
    page = console.get("/admin/admin/logentry/")
    assert page.status_code == 200
    assert "Unpublished the leaderboard." in page.content.decode()
    assert "org-organizer" in page.content.decode()


# --- ground truth ----------------------------------------------------------------------------

def test_ground_truth_versions_are_metadata_only_and_activation_requeues(org):
    second = GroundTruth.objects.create(
        task=org.phase.task, version=2, content_sha256="2" * 64, note="DOI 10.5281/zenodo.1",
        files={c: {"path": f"{LABEL_PATH}v2/{c}"} for c in ("case_a", "case_b", "case_c")})
    sibling = Phase.objects.create(task=org.phase.task, name="Final",
                                   active_ground_truth=org.phase.active_ground_truth)
    client = api(org.organizer)
    listed = client.get(f"{API}/phases/{org.phase.id}/ground-truths/")
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert [(row["version"], row["active"], row["case_count"]) for row in rows] == [
        (2, False, 3), (1, True, 3)]
    assert rows[0]["note"] == "DOI 10.5281/zenodo.1"
    assert rows[0]["content_sha256"] == "2" * 64
    assert set(rows[1]["active_in"]) == {str(org.phase.id), str(sibling.id)}
    no_secret(listed)

    activated = client.post(f"{API}/phases/{org.phase.id}/ground-truths/activate/",
                            {"version": 2}, format="json")
    assert activated.status_code == 200
    assert activated.json() == {"version": 2, "phases": [
        {"phase": str(org.phase.id), "name": org.phase.name, "queued": 1},
        {"phase": str(sibling.id), "name": "Final", "queued": 0}]}
    no_secret(activated)
    assert Phase.objects.get(pk=org.phase.pk).active_ground_truth == second
    assert Phase.objects.get(pk=sibling.pk).active_ground_truth == second
    assert org.submission.evaluations.get(state=State.QUEUED).ground_truth == second
    assert audited(org.phase) == [
        f"{org.phase}: Ground truth v2 activated: 1 evaluations queued."]
    assert len(audited(second)) == 2

    missing = client.post(f"{API}/phases/{org.phase.id}/ground-truths/activate/",
                          {"version": 7}, format="json")
    assert missing.status_code == 400
    assert missing.json()["detail"] == ("task Task01_Test has no ground-truth version 7; its "
                                        "versions: 1, 2")


# --- schema ----------------------------------------------------------------------------------

@pytest.mark.usefixtures("_one_connection")
def test_answers_with_real_rows_conform_to_the_schema(org):
    """schemathesis (test_schemathesis.py) cannot guess the ids a bulk action needs, so its
    requests to these are refused; here each operation is sent real rows and its answer checked
    against the schema the same way."""
    pending = factories.participant(org.phase, "org-schema", status=Participation.PENDING)
    participation = str(Participation.objects.get(user=pending).id)
    submission = str(org.submission.id)
    bodies = {
        "PATCH /api/v1/organizer/phases/{phase_id}/configuration/": {
            "nsd_tolerance_mm": {"liver": 2.0}, "opens_at": "2030-01-01T00:00:00Z"},
        "POST /api/v1/organizer/challenges/{key}/participants/approve/": {
            "ids": [participation]},
        "POST /api/v1/organizer/challenges/{key}/participants/reject/": {
            "ids": [participation]},
        "POST /api/v1/organizer/phases/{phase_id}/submissions/reevaluate/": {
            "ids": [submission]},
        "POST /api/v1/organizer/phases/{phase_id}/submissions/cancel/": {"ids": [submission]},
        "POST /api/v1/organizer/phases/{phase_id}/ground-truths/activate/": {"version": 1},
        "PATCH /api/v1/organizer/phases/{phase_id}/ground-truths/{version}/": {
            "licence": "CC BY 4.0"},
    }
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", served)
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if "/organizer/" not in operation.label or "/deid-review/" in operation.label:
            continue  # the de-identification review's: tests/challenges/test_deid_gate.py
        body = bodies.get(operation.label)
        case = operation.Case(
            path_parameters={"key": org.challenge.slug, "phase_id": str(org.phase.id),
                             "version": 1},
            headers={"Authorization": f"Token {factories.token(org.organizer)}",
                     "Accept-Encoding": "identity"},
            **({"body": body, "media_type": "application/json"} if body else {}))
        response = case.call_and_validate(excluded_checks=EXCLUDED)
        assert response.status_code in (200, 202), (operation.label, response.text)
        checked.append(operation.label)
    assert len(checked) == 15


def test_an_organizer_cancelling_from_the_submission_endpoint_is_audited(org):
    queued = api(org.organizer).post(
        f"{API}/phases/{org.phase.id}/submissions/reevaluate/",
        {"ids": [str(org.submission.id)]}, format="json")
    assert queued.status_code == 200
    cancelled = api(org.organizer).post(f"/api/v1/submissions/{org.submission.id}/cancel/")
    assert cancelled.status_code == 200
    assert audited(org.submission) == ["Re-evaluation requested.", "Evaluation cancelled."]


def test_a_participant_cancelling_their_own_submission_is_not_in_the_audit_log(org):
    api(org.organizer).post(f"{API}/phases/{org.phase.id}/submissions/reevaluate/",
                            {"ids": [str(org.submission.id)]}, format="json")
    assert api(org.participant).post(
        f"/api/v1/submissions/{org.submission.id}/cancel/").status_code == 200
    assert audited(org.submission) == ["Re-evaluation requested."]
