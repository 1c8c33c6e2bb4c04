"""Organizer actions in the console leave entries in the audit log, which each organizer sees
for their own challenges only; the participants' export holds what organizers need to reach
people, and no secret."""

import csv
import io

import pytest
from django.contrib.admin.models import LogEntry as Entry

from accounts.models import Profile
from challenges.models import Participation
from evaluation.models import ACTIVE_STATES, Evaluation
from tests import factories
from tests.console.conftest import logged_in

pytestmark = pytest.mark.django_db

ACTION = "/admin/{}/"


def act(client, table: str, action: str, rows) -> object:
    return client.post(ACTION.format(table), {
        "action": action, "_selected_action": [str(row.pk) for row in rows]})


def messages_about(row) -> list[str]:
    return [entry.get_change_message() for entry in
            Entry.objects.filter(object_id=str(row.pk)).order_by("action_time")]


def test_organizer_actions_are_audited_and_the_log_is_scoped(world):
    client = logged_in(world.organizer_a)
    pending = factories.participant(world.phase_a, "dan", status=Participation.PENDING)
    dan = Participation.objects.get(user=pending)
    ann = Participation.objects.get(user=world.ann, challenge=world.a)
    act(client, "challenges/participation", "approve_selected", [dan])
    act(client, "challenges/participation", "reject_selected", [ann])
    act(client, "challenges/phase", "unpublish", [world.phase_a])
    act(client, "challenges/phase", "publish", [world.phase_a])
    act(client, "challenges/groundtruth", "activate", [world.phase_a.active_ground_truth])
    act(client, "evaluation/submission", "reevaluate_selected", [world.team_submission])
    queued = Evaluation.objects.get(submission=world.team_submission, state__in=ACTIVE_STATES)
    act(client, "evaluation/evaluation", "cancel_selected", [queued])

    assert messages_about(dan) == ["Approved."]
    assert messages_about(ann) == ["Rejected."]
    assert messages_about(world.phase_a)[:2] == ["Unpublished the leaderboard.",
                                                 "Published the leaderboard."]
    assert "Ground truth v1 activated" in messages_about(world.phase_a)[2]
    assert messages_about(world.team_submission) == ["Re-evaluation requested."]
    assert messages_about(queued) == ["Cancelled."]
    assert set(Entry.objects.values_list("user__username", flat=True)) == {"organizer-a"}

    # B's organizer acts on B; neither sees the other's entries.
    organizer_b = factories.user("organizer-b")
    organizer_b.is_staff = True
    organizer_b.save()
    world.b.organizers.add(organizer_b)
    act(logged_in(organizer_b), "challenges/phase", "unpublish", [world.phase_b])
    b_entry = Entry.objects.get(object_id=str(world.phase_b.pk))

    listing = client.get("/admin/admin/logentry/")
    assert listing.status_code == 200
    shown = set(listing.context["cl"].queryset.values_list("pk", flat=True))
    assert shown == set(Entry.objects.exclude(pk=b_entry.pk).values_list("pk", flat=True))
    assert "Approved." in listing.content.decode()
    assert client.get(f"/admin/admin/logentry/{b_entry.pk}/change/").status_code == 404
    assert set(logged_in(organizer_b).get("/admin/admin/logentry/").context[
        "cl"].queryset.values_list("pk", flat=True)) == {b_entry.pk}
    assert logged_in(world.staff).get("/admin/admin/logentry/").status_code == 403
    all_entries = logged_in(world.superuser).get("/admin/admin/logentry/")
    assert all_entries.context["cl"].result_count == Entry.objects.count()
    # A record: never edited or deleted, not even by a platform administrator.
    root = logged_in(world.superuser)
    assert root.post(f"/admin/admin/logentry/{b_entry.pk}/delete/",
                     {"post": "yes"}).status_code == 403
    assert Entry.objects.filter(pk=b_entry.pk).exists()


def test_the_participants_export_lists_who_takes_part_and_no_secret(world):
    Profile.objects.update_or_create(user=world.ann, defaults={
        "full_name": "Ann Example", "affiliation": "=HYPERLINK(\"x\")"})
    world.ann.email = "ann@example.org"
    world.ann.save()
    factories.token(world.ann)
    client = logged_in(world.organizer_a)
    rows = Participation.objects.filter(challenge=world.a)
    response = act(client, "challenges/participation", "export_csv", rows)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode()
    table = list(csv.DictReader(io.StringIO(text)))
    assert [row["username"] for row in table] == ["ann", "bea"]
    ann = table[0]
    assert ann["full_name"] == "Ann Example" and ann["email"] == "ann@example.org"
    assert ann["affiliation"].startswith("'=")  # a spreadsheet will not run it
    assert ann["team"] == "Alpha" and ann["status"] == "accepted" and ann["joined_at"]
    assert world.ann.password not in text and "pbkdf2" not in text and "md5$" not in text
    assert list(Entry.objects.filter(object_id=str(rows.get(user=world.ann).pk))
                .values_list("change_message", flat=True)) == ["Exported in a participants CSV."]
    assert "cat" not in text
    across = act(client, "challenges/participation", "export_csv",
                 Participation.objects.all())  # B's participant, even if asked for by id
    assert [row["username"] for row in csv.DictReader(io.StringIO(
        across.content.decode()))] == ["ann", "bea"]
