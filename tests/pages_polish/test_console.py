"""The console as the walkthrough found it: Django's branding, raw field names, a section of
settings the phase does not use, a Delete that destroys submissions, an audit log that lists
every table of the platform and names rows as they were before the action, and a submissions
list led by UUIDs. Driven through the admin's own views with a real client."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session

from accounts.models import ApiToken
from challenges.models import Participation, Phase, Task
from core.templatetags.when import text
from evaluation.models import Submission
from tests import factories

from .conftest import logged_in

pytestmark = pytest.mark.django_db


def test_the_console_is_branded_podium(world):
    html = logged_in(world.organizer_a).get("/admin/").content.decode()
    assert "Podium console" in html.split("<title>")[1].split("</title>")[0]
    assert 'id="site-name"><a href="/admin/">Podium console</a>' in html
    assert "Django administration" not in html and "Django site admin" not in html


def phase_form(client, phase):
    response = client.get(f"/admin/challenges/phase/{phase.id}/change/")
    assert response.status_code == 200
    return response


def test_the_phase_form_names_fields_in_words_and_shows_container_limits_only_for_algorithms(
        world):
    client = logged_in(world.organizer_a)
    page = phase_form(client, world.phase_a)
    form = page.context["adminform"].form
    assert "algorithm_memory_mb" not in form.fields  # a predictions-archive phase
    assert "Algorithm containers" not in page.content.decode()
    assert form.fields["worst_distance_mm"].label == "Worst distance (mm)"
    assert dict(form.fields["limit_period"].choices)["day"] == "per 24 hours (rolling)"
    assert "per day" not in page.content.decode()
    assert form.fields["nsd_tolerance_1"].label == "NSD tolerance, organ (mm)"

    Phase.objects.filter(pk=world.phase_a.pk).update(submission_kind=Phase.ALGORITHM)
    page = phase_form(client, world.phase_a)
    form = page.context["adminform"].form
    labels = {name: form.fields[name].label for name in
              ("algorithm_memory_mb", "algorithm_cpus", "algorithm_time_limit_s")}
    assert labels == {"algorithm_memory_mb": "Memory (MB)", "algorithm_cpus": "CPUs",
                      "algorithm_time_limit_s": "Time limit (s)"}
    assert "Algorithm containers" in page.content.decode()


def test_organizers_cannot_delete_phases_or_tasks_with_submissions_administrators_can(world):
    organizer, root = logged_in(world.organizer_a), logged_in(world.superuser)
    phase, task = world.phase_a, world.phase_a.task
    for url in (f"/admin/challenges/phase/{phase.id}/", f"/admin/challenges/task/{task.id}/"):
        assert 'class="deletelink"' not in organizer.get(f"{url}change/").content.decode()
        assert organizer.post(f"{url}delete/", {"post": "yes"}).status_code == 403
        assert 'class="deletelink"' in root.get(f"{url}change/").content.decode()
    # Nor through the list's delete action, which asks about every row it would delete.
    organizer.post("/admin/challenges/phase/", {
        "action": "delete_selected", "_selected_action": [str(phase.pk)], "post": "yes"})
    assert Phase.objects.filter(pk=phase.pk).exists()
    assert Submission.objects.filter(phase=phase).exists()

    # A phase without submissions the organizer may delete; a platform administrator any.
    empty = Phase.objects.create(task=task, name="Empty",
                                 active_ground_truth=phase.active_ground_truth)
    assert organizer.post(f"/admin/challenges/phase/{empty.id}/delete/",
                          {"post": "yes"}).status_code == 302
    assert not Phase.objects.filter(pk=empty.pk).exists()
    assert root.post(f"/admin/challenges/phase/{phase.id}/delete/",
                     {"post": "yes"}).status_code == 302
    assert not Submission.objects.filter(phase_id=phase.id).exists()
    assert Task.objects.filter(pk=task.pk).exists()


def test_the_submissions_list_leads_with_who_and_when_and_shows_the_score(world):
    response = logged_in(world.organizer_a).get("/admin/evaluation/submission/")
    html = response.content.decode()
    submission = world.team_submission
    link = re.search(rf'<th class="field-entry"><a href="/admin/evaluation/submission/'
                     rf'{submission.pk}/change/">([^<]*)</a>', html)
    assert link and link[1] == f"Alpha · {text(submission.created)}"  # no UUID to read
    assert "Dice 0.8123" in html  # exact for organizers, with Dice's 4 places
    assert "column-score" in html


def kinds_offered(page) -> list[str]:
    """The choices of the audit log's filter by kind of row."""
    changelist = page.context["cl"]
    return [choice["display"] for spec in changelist.filter_specs
            if getattr(spec, "parameter_name", None) == "content_type"
            for choice in spec.choices(changelist)]


def test_the_audit_log_names_rows_after_the_action_and_lists_only_kinds_organizers_act_on(
        world):
    organizer = logged_in(world.organizer_a)
    pending = factories.participant(world.phase_a, "ines", status=Participation.PENDING)
    row = Participation.objects.get(user=pending)
    organizer.post("/admin/challenges/participation/", {
        "action": "approve_selected", "_selected_action": [str(row.pk)]})
    entry = LogEntry.objects.get(object_id=str(row.pk))
    assert entry.get_change_message() == "Approved."
    assert "(accepted)" in entry.object_repr.lower() and "pending" not in entry.object_repr

    # Entries about the platform's own tables, made by a platform administrator.
    for model in (Session, ApiToken):
        LogEntry.objects.create(user=world.superuser, action_flag=2, object_id="1",
                                object_repr="x", change_message="changed",
                                content_type=ContentType.objects.get_for_model(model))
    page = organizer.get("/admin/admin/logentry/")
    choices = kinds_offered(page)
    assert "participation" in choices
    assert "session" not in choices and "API token" not in choices
    html = page.content.decode()
    assert "Object repr" not in html and "column-item" in html and "column-message" in html
    assert f"participation: {entry.object_repr}" in html

    every = logged_in(world.superuser).get("/admin/admin/logentry/")
    every_choices = kinds_offered(every)
    assert "session" in every_choices and "API token" in every_choices
    assert organizer.get("/admin/admin/logentry/?content_type=abc").status_code == 302
