"""The participant's pages: the phase page (quota, deadline, which submission counts, the
team's submissions), the team page and its access rules, the submission page's live parts."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Profile
from challenges.models import Participation, Phase, Team
from core.errors import Refused
from core.templatetags.when import text
from evaluation.models import Submission
from evaluation.services.submission import participation_for, quota
from tests import factories

from .helpers import cube_predictions_zip, submit_file

pytestmark = pytest.mark.django_db


def submitted(phase, user, state="succeeded", *, ago=None, team=None, refused=False,
              description="", **evaluation_fields):
    """A submission row made ``ago`` (a timedelta) before now, for ``team`` if given."""
    submission, _ = factories.submission(phase, user, state=state, **evaluation_fields)
    fields = {"team": team, "is_valid": False if refused else None, "description": description}
    if ago is not None:
        fields["created"] = timezone.now() - ago
    Submission.objects.filter(pk=submission.pk).update(**fields)
    submission.refresh_from_db()
    return submission


def team_of(phase, name, *members):
    team = Team.objects.create(challenge=phase.challenge, name=name)
    Participation.objects.filter(challenge=phase.challenge, user__in=members).update(team=team)
    return team


def page(user, url):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(url)


def mixed_history(phase, user, team=None):
    """One submission of each kind the limit treats differently; returns the oldest that
    counts whatever ``count_failed`` says."""
    oldest = submitted(phase, user, "succeeded", ago=timedelta(hours=20), team=team)
    submitted(phase, user, "queued", ago=timedelta(hours=1), team=team)
    submitted(phase, user, "failed", ago=timedelta(hours=21), team=team)
    submitted(phase, user, "cancelled", ago=timedelta(hours=2), team=team)
    submitted(phase, user, "failed", ago=timedelta(hours=22), team=team, refused=True)
    submitted(phase, user, "succeeded", ago=timedelta(days=2), team=team)  # out of the window
    return oldest


def test_quota_counts_what_the_limit_counts_without_failed():
    phase = factories.phase(submission_limit=5, limit_period="day", count_failed=False)
    user = factories.participant(phase)
    oldest = mixed_history(phase, user)
    current = quota(phase, participation_for(phase, user))
    assert (current.used, current.limit, current.left) == (2, 5, 3)
    assert current.period == "in the last 24 hours"
    assert current.frees_at == oldest.created + timedelta(days=1)


def test_quota_counts_failed_and_cancelled_when_the_phase_says_so():
    phase = factories.phase(submission_limit=3, limit_period="day", count_failed=True)
    user = factories.participant(phase)
    mixed_history(phase, user)
    failed_oldest = Submission.objects.filter(is_valid__isnull=True).exclude(
        created__lt=timezone.now() - timedelta(days=1)).order_by("created").first()
    current = quota(phase, participation_for(phase, user))
    assert (current.used, current.left) == (4, 0)  # not the refused upload, not the old one
    assert current.frees_at == failed_oldest.created + timedelta(days=1)
    phase.limit_period = "phase"
    current = quota(phase, participation_for(phase, user))
    assert (current.used, current.period, current.frees_at) == (5, "in this phase", None)


def test_quota_without_a_limit():
    phase = factories.phase()
    user = factories.participant(phase)
    submitted(phase, user)
    current = quota(phase, participation_for(phase, user))
    assert (current.used, current.limit, current.left) == (1, None, None)
    assert "no limit" in page(user, f"/phases/{phase.id}/submit/").content.decode()


def test_the_quota_is_the_teams_and_a_lone_participants_own():
    phase = factories.phase(submission_limit=10, limit_period="week")
    alice, bob, carol = (factories.participant(phase, name) for name in ("alice", "bob", "carol"))
    team = team_of(phase, "Segmenters", alice, bob)
    for _ in range(2):
        submitted(phase, alice, team=team, ago=timedelta(days=3))
    submitted(phase, bob, team=team)
    submitted(phase, carol)
    assert quota(phase, participation_for(phase, bob)).used == 3
    assert quota(phase, participation_for(phase, alice)).used == 3
    assert quota(phase, participation_for(phase, carol)).used == 1
    html = page(bob, f"/phases/{phase.id}/submit/").content.decode()
    assert "7 of 10 left" in html and "3 used in the last 7 days" in html
    html = page(carol, f"/phases/{phase.id}/submit/").content.decode()
    assert "9 of 10 left" in html and "1 used in the last 7 days" in html


def test_the_limit_refuses_exactly_when_the_page_shows_none_left(tmp_path):
    from .helpers import cube_phase

    phase = cube_phase(tmp_path, submission_limit=2, limit_period="day")
    user = factories.participant(phase)
    submit_file(phase, user, cube_predictions_zip(tmp_path))
    html = page(user, f"/phases/{phase.id}/submit/").content.decode()
    assert "1 of 2 left" in html
    first = Submission.objects.get()
    assert text(first.created + timedelta(days=1)) in html
    submit_file(phase, user, cube_predictions_zip(tmp_path))
    current = quota(phase, participation_for(phase, user))
    assert current.left == 0
    assert "0 of 2 left" in page(user, f"/phases/{phase.id}/submit/").content.decode()
    with pytest.raises(Refused, match="2 of 2 in the last 24 hours; the oldest stops counting "
                                      f"at {text(current.frees_at)}"):
        submit_file(phase, user, cube_predictions_zip(tmp_path))


def test_a_new_team_member_sees_the_teams_earlier_submissions():
    phase = factories.phase(submission_limit=10)
    alice = factories.participant(phase, "alice")
    team = team_of(phase, "Segmenters", alice)
    for _ in range(3):
        submitted(phase, alice, team=team, description="alices net")
    newcomer = factories.participant(phase, "newcomer")
    Participation.objects.filter(user=newcomer).update(team=team)
    html = page(newcomer, f"/phases/{phase.id}/submit/").content.decode()
    assert "No submissions yet" not in html
    assert html.count("alices net") == 3 and html.count('<td class="submitter">alice') == 3
    assert "Your team's submissions" in html and "7 of 10 left" in html
    assert f'href="/teams/{team.id}/"' in html
    lone = factories.participant(phase, "lone")
    html = page(lone, f"/phases/{phase.id}/submit/").content.decode()
    assert "No submissions yet" in html and "alices net" not in html
    assert "/teams/" not in html


def test_phase_page_states_the_deadline_opening_and_which_submission_counts():
    opens = timezone.now() - timedelta(days=1)
    closes = timezone.now() + timedelta(days=2, hours=3, minutes=1)
    phase = factories.phase(opens_at=opens, closes_at=closes)
    user = factories.participant(phase)
    html = page(user, f"/phases/{phase.id}/submit/").content.decode()
    assert f'<time datetime="{closes.isoformat()}">{text(closes)}</time>' in html
    assert "in 2 days 3 h" in html
    assert f'<time datetime="{opens.isoformat()}">{text(opens)}</time>' in html
    assert "Your latest successful submission counts" in html
    assert f'href="/phases/{phase.id}/"' in html  # the leaderboard
    Phase.objects.filter(pk=phase.pk).update(leaderboard_selection="best", closes_at=None)
    html = page(user, f"/phases/{phase.id}/submit/").content.decode()
    assert "Your best submission counts (by Dice)" in html
    assert "the phase has no closing time" in html


def test_dates_on_the_pages_are_in_the_one_format():
    phase = factories.phase()
    user = factories.participant(phase)
    team = team_of(phase, "Segmenters", user)
    submission = submitted(phase, user, team=team)
    stamp = f'<time datetime="{submission.created.isoformat()}">{text(submission.created)}</time>'
    for url in (f"/phases/{phase.id}/submit/", f"/teams/{team.id}/",
                f"/submissions/{submission.id}/"):
        assert stamp in page(user, url).content.decode(), url


def test_team_page_shows_members_code_and_every_submission_with_its_score():
    phase = factories.phase()
    final = Phase.objects.create(task=phase.task, name="Final",
                                 active_ground_truth=phase.active_ground_truth)
    alice, bob = factories.participant(phase, "alice"), factories.participant(phase, "bob")
    alice.email = "alice@example.org"
    alice.save()
    Profile.objects.create(user=alice, full_name="Alice Liddell")  # as sign-up stores it
    team = team_of(phase, "Segmenters", alice, bob)
    submitted(phase, alice, team=team, aggregate={"1": {"dice": 0.81234}}, description="first")
    submitted(final, bob, "scoring", team=team, description="second")
    submitted(phase, factories.participant(phase, "outsider"), description="not theirs")
    html = page(bob, f"/teams/{team.id}/").content.decode()
    assert "Team Segmenters" in html
    assert "<li>Alice Liddell</li>" in html and "<li>bob</li>" in html
    assert "alice@example.org" not in html
    assert f'<code id="team-code">{team.join_code}</code>' in html
    assert "first" in html and "second" in html and "not theirs" not in html
    assert str(final) in html and str(phase) in html
    assert "Dice 0.8123" in html and "state-scoring" in html


def test_team_page_is_for_accepted_members_and_organizers_only():
    phase = factories.phase()
    alice = factories.participant(phase, "alice")
    team = team_of(phase, "Segmenters", alice)
    pending = factories.participant(phase, "pending", status=Participation.PENDING)
    Participation.objects.filter(user=pending).update(team=team)
    organizer = factories.user("organizer")
    phase.challenge.organizers.add(organizer)
    url = f"/teams/{team.id}/"
    assert page(alice, url).status_code == 200
    organizer_view = page(organizer, url)
    assert organizer_view.status_code == 200
    assert team.join_code not in organizer_view.content.decode()
    assert "alice" in organizer_view.content.decode()
    assert "<li>pending</li>" not in organizer_view.content.decode()  # not accepted
    for outsider in (pending, factories.participant(phase, "rival"), factories.user("stranger")):
        response = page(outsider, url)
        assert response.status_code == 404, outsider
        assert team.join_code not in response.content.decode()
    assert page(None, url).status_code == 302  # to the login page


def test_team_page_shows_scores_only_as_the_phase_allows():
    phase = factories.phase(show_scores=False)
    alice = factories.participant(phase, "alice")
    team = team_of(phase, "Segmenters", alice)
    submitted(phase, alice, team=team, aggregate={"1": {"dice": 0.81234}})
    organizer = factories.user("organizer")
    phase.challenge.organizers.add(organizer)
    assert "0.8123" not in page(alice, f"/teams/{team.id}/").content.decode()
    assert "Dice 0.8123" in page(organizer, f"/teams/{team.id}/").content.decode()


def test_submission_page_follows_an_unfinished_submission_and_shows_logs_where_allowed():
    phase = factories.phase(submission_kind=Phase.ALGORITHM, show_algorithm_logs=True)
    user = factories.participant(phase)
    running = submitted(phase, user, "running_algorithm", logs="epoch 1 <done>",
                        participant_message="Running your algorithm")
    html = page(user, f"/submissions/{running.id}/").content.decode()
    assert f'data-poll="/api/v1/submissions/{running.id}/"' in html
    assert 'id="state"' in html and 'id="message"' in html and 'id="progress"' in html
    assert '<pre id="logs" class="logs">epoch 1 &lt;done&gt;</pre>' in html
    assert f"/submissions/{running.id}/cancel/" in html
    assert "<script>" not in html
    Phase.objects.filter(pk=phase.pk).update(show_algorithm_logs=False)
    finished = submitted(phase, user, "succeeded", logs="secret output")
    html = page(user, f"/submissions/{finished.id}/").content.decode()
    assert "data-poll" not in html and "secret output" not in html and 'id="logs"' not in html


def test_a_clinical_submission_shows_its_set_metrics_without_a_label_column_and_auc_per_time():
    phase = factories.phase(primary_metric="c_index", survival_times=[365, 730])
    Phase.objects.filter(pk=phase.pk).update(metrics=["c_index", "td_auc"])
    phase.task.kind, phase.task.clinical = "survival", {"target": "os", "time_unit": "days"}
    phase.task.save()
    phase.refresh_from_db()
    user = factories.participant(phase)
    done = submitted(phase, user, aggregate={"c_index": 0.71234, "td_auc": 0.6543,
                                             "td_auc_per_time": {"365": 0.61, "730": 0.7012}})
    html = page(user, f"/submissions/{done.id}/").content.decode()
    table = html.split('<table id="aggregate">')[1].split("</table>")[0]
    assert "Label" not in table and "<td>all</td>" not in table
    assert table.count("<th ") == table.count("<td>") and "<td>0.7123</td>" in table
    per_time = html.split('<table id="per-time">')[1].split("</table>")[0]
    assert "Time (days)" in per_time
    assert "<td>365</td><td>0.610" in per_time and "<td>730</td><td>0.701" in per_time
    # A segmentation submission keeps its Label column and has no AUC per time.
    segmentation = factories.phase()
    other = factories.participant(segmentation)
    done = submitted(segmentation, other, aggregate={"1": {"dice": 0.8}})
    html = page(other, f"/submissions/{done.id}/").content.decode()
    assert '<th scope="col">Label</th>' in html and 'id="per-time"' not in html


def test_a_long_unbroken_message_wraps_in_its_cell():
    phase = factories.phase()
    user = factories.participant(phase)
    uid = "1.3.6.1.4.1.14519.5.2.1.7009.2403.987654321098760003999999"
    submitted(phase, user, "failed", participant_message=f"case a: Frame of Reference UID {uid}")
    html = page(user, f"/phases/{phase.id}/submit/").content.decode()
    assert f'<td class="message">case a: Frame of Reference UID {uid}</td>' in html
    # the site's stylesheet lets that cell break anywhere (seen in chromium: the Leaderboard
    # column stays on screen)
    from django.contrib.staticfiles import finders
    with open(finders.find("podium.css"), encoding="utf-8") as css:
        assert "#submissions td.message { overflow-wrap: anywhere;" in css.read()
