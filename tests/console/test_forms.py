"""The console's forms, driven through a real client as a staff organizer of challenge A (not
a superuser) and as a superuser: no form answers 500, saved empty or as served; a phase's form
offers only its task kind's settings, each as a field of its own, and checks them; what only
the worker machinery reads stays out of the organizers' pages."""

import re

import pytest
from django.contrib import admin
from django.test import Client

from challenges.models import Phase
from evaluation.models import ImportJob
from tests.console.browser_form import served_values
from tests.console.conftest import logged_in

pytestmark = pytest.mark.django_db


def console_client(user) -> Client:
    client = logged_in(user)
    client.raise_request_exception = False  # a crash must show as its 500, not stop the walk
    return client


def every_add_url() -> list[str]:
    return [f"/admin/{model._meta.app_label}/{model._meta.model_name}/add/"
            for model in admin.site._registry]


@pytest.mark.parametrize("who", ["organizer_a", "superuser"])
def test_no_add_form_answers_500_saved_empty_or_as_served(world, detection_phase, who):
    client = console_client(getattr(world, who))
    opened = 0
    for url in every_add_url():
        form = client.get(url)
        assert form.status_code < 500, url
        assert client.post(url, {}).status_code < 500, url
        if form.status_code != 200:
            continue
        opened += 1
        html = form.content.decode()
        for data in (served_values(html), served_values(html, pick=True)):
            assert client.post(url, data).status_code < 500, (url, sorted(data))
    assert opened >= 3  # the walk reached real forms


@pytest.mark.parametrize("who", ["organizer_a", "superuser"])
def test_no_change_form_answers_500_saved_as_served(world, detection_phase, who):
    ImportJob.objects.create(challenge=world.a, file_name="Task01.tar", progress="checked")
    client = console_client(getattr(world, who))
    visited = 0
    for model, model_admin in admin.site._registry.items():
        row = model_admin.get_queryset(_request_of(getattr(world, who))).first()
        if row is None:
            continue
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/{row.pk}/change/"
        page = client.get(url)
        assert page.status_code < 500, url
        if page.status_code == 200:
            visited += 1
            assert client.post(url, served_values(page.content.decode())).status_code < 500, url
        assert client.post(url, {}).status_code < 500, url
    assert visited >= 10


def _request_of(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_tasks_come_from_imports_not_from_an_empty_add_form(world):
    for user in (world.organizer_a, world.superuser):
        assert console_client(user).get("/admin/challenges/task/add/").status_code == 403
    page = console_client(world.organizer_a).get(
        f"/admin/challenges/task/{world.phase_a.task_id}/change/").content.decode()
    assert "Upload a new ground-truth version" in page
    assert 'name="cases"' not in page and 'name="images"' not in page
    assert "groundtruth/x/" not in page and "imagesTs/" not in page  # no storage names
    challenge_page = console_client(world.organizer_a).get(
        f"/admin/challenges/challenge/{world.a.id}/change/").content.decode()
    assert f'href="/admin/evaluation/importjob/add/?challenge={world.a.id}"' in challenge_page


def field_names(page) -> set[str]:
    return set(page.context["adminform"].form.fields)


def test_a_segmentation_phase_offers_its_metrics_as_checkboxes_and_a_tolerance_per_label(world):
    client = console_client(world.organizer_a)
    url = f"/admin/challenges/phase/{world.phase_a.id}/change/"
    page = client.get(url)
    fields = field_names(page)
    assert {"metrics", "primary_metric", "nsd_tolerance_1", "surface"} <= fields
    assert not fields & {"iou_threshold", "voc2007", "plus_one", "nsd_tolerance_mm",
                         "default_tolerance_mm", "task", "active_ground_truth",
                         "algorithm_memory_mb", "show_algorithm_logs"}  # a predictions phase
    html = page.content.decode()
    assert 'type="checkbox" name="metrics" value="hd95"' in html
    assert "NSD tolerance, organ (mm)" in html
    assert not re.search(r"<textarea[^>]*name=\"(metrics|nsd_tolerance_mm)\"", html)
    assert {choice for choice, _ in page.context["adminform"].form.fields[
        "primary_metric"].choices} == {"dice", "nsd", "hd", "hd95", "assd"}

    data = served_values(html)
    data.update(metrics=["dice", "nsd", "hd95"], primary_metric=["hd95"],
                nsd_tolerance_1=["2.5"])
    assert client.post(url, data).status_code == 302
    phase = Phase.objects.get(pk=world.phase_a.pk)
    assert phase.metrics == ["dice", "nsd", "hd95"] and phase.primary_metric == "hd95"
    assert phase.nsd_tolerance_mm == {"1": 2.5}

    data.update(metrics=["dice"])  # the primary metric must be computed
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "the primary metric must be computed" in refused.content.decode()
    data.update(metrics=["dice", "hd95"], nsd_tolerance_1=["-1"])
    assert client.post(url, data).status_code == 200


def test_a_detection_phase_offers_only_detection_settings(world, detection_phase):
    client = console_client(world.organizer_a)
    url = f"/admin/challenges/phase/{detection_phase.id}/change/"
    page = client.get(url)
    fields = field_names(page)
    assert {"primary_metric", "iou_threshold", "voc2007", "plus_one"} <= fields
    assert not fields & {"metrics", "surface", "worst_distance_mm", "allow_partial",
                         "algorithm_memory_mb", "nsd_tolerance_mm", "default_tolerance_mm"}
    assert {choice for choice, _ in page.context["adminform"].form.fields[
        "primary_metric"].choices} == {"mAP", "AP", "AP50", "AP75"}
    data = served_values(page.content.decode())
    data.update(iou_threshold=["1.5"])
    assert client.post(url, data).status_code == 200  # an IoU above 1 is refused
    data.update(iou_threshold=["0.3"], primary_metric=["AP50"])
    assert client.post(url, data).status_code == 302
    phase = Phase.objects.get(pk=detection_phase.pk)
    assert (phase.iou_threshold, phase.primary_metric) == (0.3, "AP50")


def test_a_phase_must_close_after_it_opens(world):
    client = console_client(world.organizer_a)
    url = f"/admin/challenges/phase/{world.phase_a.id}/change/"
    data = served_values(client.get(url).content.decode())
    data.update({"opens_at_0": ["2026-12-10"], "opens_at_1": ["12:00:00"],
                 "closes_at_0": ["2026-12-01"], "closes_at_1": ["12:00:00"]})
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "the phase must close after it opens" in refused.content.decode()
    data.update({"closes_at_0": ["2026-12-20"]})
    saved = client.post(url, data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    phase = Phase.objects.get(pk=world.phase_a.pk)
    assert phase.opens_at < phase.closes_at


def test_a_phase_renamed_to_a_name_its_task_has_is_refused_not_a_500(world):
    client = console_client(world.organizer_a)
    Phase.objects.create(task=world.phase_a.task, name="Taken")
    url = f"/admin/challenges/phase/{world.phase_a.id}/change/"
    data = served_values(client.get(url).content.decode())
    data.update({"name": ["Taken"]})
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "already has a phase named" in refused.content.decode()
    assert Phase.objects.get(pk=world.phase_a.pk).name != "Taken"


def test_a_phase_added_in_the_console_scores_against_its_tasks_ground_truth(world,
                                                                            detection_phase):
    client = console_client(world.organizer_a)
    for task, kind_default in ((world.phase_a.task, "dice"), (detection_phase.task, "mAP")):
        added = client.post("/admin/challenges/phase/add/", {
            "task": [str(task.id)], "name": ["Final"], "submission_kind": ["predictions"],
            "opens_at_0": [""], "opens_at_1": [""], "closes_at_0": [""], "closes_at_1": [""]})
        phase = Phase.objects.get(task=task, name="Final")
        assert added.status_code == 302
        assert added["Location"].endswith(f"/admin/challenges/phase/{phase.id}/change/")
        assert phase.active_ground_truth == task.ground_truths.get()
        assert phase.primary_metric == kind_default
    assert set(field_names(client.get("/admin/challenges/phase/add/"))) == {
        "task", "name", "submission_kind", "opens_at", "closes_at"}


def test_an_evaluations_page_shows_organizers_no_worker_internals(world):
    evaluation = world.team_submission.evaluations.get()
    url = f"/admin/evaluation/evaluation/{evaluation.id}/change/"
    page = console_client(world.organizer_a).get(url).content.decode()
    assert "organizer log" in page.lower() and "scoring configuration" in page.lower()
    for internal in ("lease", "shards taken", "shards finished", "heartbeat", "Worker:"):
        assert internal not in page, internal
    assert "{&quot;" not in page and '{"' not in page  # no raw JSON
    assert "heartbeat" in console_client(world.superuser).get(url).content.decode()


def test_a_snapshot_page_shows_no_raw_json(world):
    snapshot = world.phase_a.snapshot
    page = console_client(world.organizer_a).get(
        f"/admin/leaderboard/leaderboardsnapshot/{snapshot.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "entrants ranked" in html.lower() and f"/phases/{world.phase_a.id}/" in html
    assert '"entrant"' not in html and "&quot;entrant&quot;" not in html


def test_the_markdown_preview_renders_as_the_pages_do_for_organizers_only(world):
    url = "/admin/challenges/challenge/preview/"
    text = "# Rules\n\n[x](javascript:alert(1))\n\n<script>alert(1)</script>"
    answer = console_client(world.organizer_a).post(url, {"text": text})
    assert answer.status_code == 200
    html = answer.json()["html"]
    assert "<h1>Rules</h1>" in html and "<script" not in html and "href" not in html
    assert console_client(world.organizer_a).get(url).status_code == 405
    assert console_client(world.staff).post(url, {"text": text}).status_code == 403


def test_a_negative_submission_limit_gets_one_message(world):
    client = console_client(world.organizer_a)
    url = f"/admin/challenges/phase/{world.phase_a.id}/change/"
    data = served_values(client.get(url).content.decode())
    data.update({"submission_limit": ["-1"]})
    refused = client.post(url, data)
    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors["submission_limit"]
    assert errors == ["Ensure this value is greater than or equal to 1."]
