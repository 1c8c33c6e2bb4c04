"""Roles: organizers are a per-challenge role, never staff status; a platform administrator is
a superuser; a rejected or removed participant loses the team's results. Checked on the API,
the pages and the console (Django's admin), with real rows and a real client."""

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from challenges.models import Challenge, Participation, Phase, Team
from evaluation.models import Evaluation, State, Submission
from leaderboard import services
from tests import factories
from tests.leaderboard.helpers import labelled_phase, scored_evaluation

pytestmark = pytest.mark.django_db

CASES = ("case_a", "case_b")
VALUES = {(case, 1): {"dice": 0.81234, "nsd": 0.9, "hd": 2.0, "hd95": 1.5, "assd": 0.5}
          for case in CASES}


@dataclass
class World:
    """Challenge A (published, its leaderboard hidden) and challenge B (unpublished); a team of
    two in A, a participant in B, each with a scored submission; a staff user who organizes
    nothing, A's organizer (staff) and a superuser."""

    phase_a: Phase
    phase_b: Phase
    team: Team
    ann: object  # A: made the team's submission
    bea: object  # A: ann's teammate
    cat: object  # B
    team_submission: Submission
    b_submission: Submission
    staff: object
    organizer_a: object
    superuser: object

    @property
    def a(self) -> Challenge:
        return self.phase_a.task.challenge

    @property
    def b(self) -> Challenge:
        return self.phase_b.task.challenge


def staff_user(username: str):
    return get_user_model().objects.create_user(username=username, password="pw",
                                                is_staff=True)


@pytest.fixture
def world() -> World:
    phase_a = labelled_phase(cases=CASES, slug="roles-a", is_public=False, show_scores=True,
                             public_score_decimals=2)
    phase_b = labelled_phase(cases=CASES, slug="roles-b", is_public=True, show_scores=True)
    Challenge.objects.filter(pk=phase_a.task.challenge_id).update(title="Alpha Decathlon")
    Challenge.objects.filter(pk=phase_b.task.challenge_id).update(title="Bravo Decathlon",
                                                                  is_published=False)
    phase_a, phase_b = (Phase.objects.select_related("task__challenge").get(pk=p.pk)
                        for p in (phase_a, phase_b))
    ann = factories.participant(phase_a, "ann")
    bea = factories.participant(phase_a, "bea")
    team = Team.objects.create(challenge=phase_a.task.challenge, name="Alpha")
    Participation.objects.filter(user__in=[ann, bea]).update(team=team)
    team_submission = scored_evaluation(phase_a, ann, VALUES, team=team).submission
    cat = factories.participant(phase_b, "cat")
    b_submission = scored_evaluation(phase_b, cat, VALUES).submission
    services.refresh(phase_a.id)
    services.refresh(phase_b.id)
    organizer_a = staff_user("organizer-a")
    phase_a.task.challenge.organizers.add(organizer_a)
    return World(phase_a=phase_a, phase_b=phase_b, team=team, ann=ann, bea=bea, cat=cat,
                 team_submission=team_submission, b_submission=b_submission,
                 staff=staff_user("staff-only"), organizer_a=organizer_a,
                 superuser=factories.user("root", staff=True))


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queued_submission(phase: Phase, creator) -> Submission:
    return factories.submission(phase, creator, state=State.QUEUED)[0]


def current_state(submission: Submission) -> str:
    return Evaluation.objects.filter(submission=submission).order_by("-created").first().state


# --- staff status alone grants nothing ------------------------------------------------------

def test_staff_alone_does_not_see_an_unpublished_challenge_or_join_it(world):
    client = logged_in(world.staff)
    b = world.b
    assert client.get(f"/api/v1/challenges/{b.slug}/").status_code == 404
    assert client.get(f"/api/v1/challenges/{b.id}/").status_code == 404
    assert b.slug not in client.get("/api/v1/challenges/").content.decode()
    assert client.get(f"/challenges/{b.slug}/").status_code == 404
    home = client.get("/").content.decode()
    assert world.a.title in home and b.title not in home
    assert client.get(f"/api/v1/phases/{world.phase_b.id}/").status_code == 404

    assert client.post(f"/api/v1/challenges/{b.slug}/join/", {"accept_terms": True},
                       content_type="application/json").status_code == 404
    assert client.post(f"/challenges/{b.slug}/join/", {"accept_terms": "on"}).status_code == 404
    assert not Participation.objects.filter(user=world.staff).exists()


def test_staff_alone_sees_no_hidden_or_unpublished_leaderboard(world):
    client = logged_in(world.staff)
    for phase in (world.phase_a, world.phase_b):  # A's hidden, B's in an unpublished challenge
        for url in (f"/api/v1/phases/{phase.id}/leaderboard/", f"/phases/{phase.id}/",
                    f"/phases/{phase.id}/leaderboard.json", f"/phases/{phase.id}/cases.csv"):
            assert client.get(url).status_code == 404, url
    assert client.get(f"/api/v1/challenges/{world.b.slug}/leaderboard/").status_code == 404
    assert client.get(f"/challenges/{world.b.slug}/leaderboard/").status_code == 404
    # A's leaderboard is hidden from everyone but its organizers: exact scores there only.
    board = logged_in(world.organizer_a).get(f"/api/v1/phases/{world.phase_a.id}/leaderboard/")
    assert board.status_code == 200 and "0.81234" in board.content.decode()


def test_staff_alone_neither_reads_nor_cancels_another_teams_submission(world):
    client = logged_in(world.staff)
    waiting = queued_submission(world.phase_a, world.ann)
    for submission in (world.team_submission, world.b_submission, waiting):
        assert client.get(f"/api/v1/submissions/{submission.id}/").status_code == 404
        assert client.get(f"/submissions/{submission.id}/").status_code == 404
    assert client.post(f"/api/v1/submissions/{waiting.id}/cancel/").status_code == 404
    assert client.post(f"/submissions/{waiting.id}/cancel/").status_code == 404
    assert current_state(waiting) == State.QUEUED
    assert client.get(f"/api/v1/phases/{world.phase_a.id}/submissions/").json()["results"] == []


# --- the console ----------------------------------------------------------------------------

CHANGELISTS = {
    "challenges/challenge": lambda w: w.b.id,
    "challenges/task": lambda w: w.phase_b.task_id,
    "challenges/phase": lambda w: w.phase_b.id,
    "challenges/groundtruth": lambda w: w.phase_b.active_ground_truth_id,
    "challenges/participation": lambda w: Participation.objects.get(user=w.cat).id,
    "evaluation/submission": lambda w: w.b_submission.id,
    "evaluation/evaluation": lambda w: w.b_submission.evaluations.get().id,
    "leaderboard/leaderboardsnapshot": lambda w: w.phase_b.snapshot.id,
}


def test_staff_alone_finds_the_console_empty(world):
    client = logged_in(world.staff)
    index = client.get("/admin/")
    assert index.status_code == 200 and index.context["app_list"] == []
    for model, row in CHANGELISTS.items():
        assert client.get(f"/admin/{model}/").status_code == 403, model
        assert client.get(f"/admin/{model}/{row(world)}/change/").status_code in (403, 404), model
    assert client.get("/admin/challenges/team/").status_code == 403
    assert client.get("/admin/evaluation/caseresult/").status_code == 403


def test_an_organizer_sees_only_their_challenges_rows_in_the_console(world):
    client = logged_in(world.organizer_a)
    a_rows = {
        "challenges/challenge": world.a.id,
        "challenges/task": world.phase_a.task_id,
        "challenges/phase": world.phase_a.id,
        "challenges/groundtruth": world.phase_a.active_ground_truth_id,
        "challenges/participation": Participation.objects.get(user=world.ann).id,
        "challenges/team": world.team.id,
        "evaluation/submission": world.team_submission.id,
        "evaluation/evaluation": world.team_submission.evaluations.get().id,
        "leaderboard/leaderboardsnapshot": world.phase_a.snapshot.id,
    }
    for model, row in CHANGELISTS.items():
        listing = client.get(f"/admin/{model}/")
        assert listing.status_code == 200, model
        shown = {str(obj.pk) for obj in listing.context["cl"].result_list}
        assert str(a_rows[model]) in shown and str(row(world)) not in shown, model
        assert world.b.title not in listing.content.decode(), model  # nor in its filters
        assert client.get(f"/admin/{model}/{row(world)}/change/").status_code == 404, model
        assert client.get(f"/admin/{model}/{a_rows[model]}/change/").status_code == 200, model

    phase_form = client.get("/admin/challenges/phase/add/")  # a phase's task is fixed after
    task_choices = {str(choice[0].value) for choice in
                    phase_form.context["adminform"].form.fields["task"].choices if choice[0]}
    assert task_choices == {str(world.phase_a.task_id)}
    # The organizers of a challenge are named by a platform administrator, not picked here.
    challenge_form = client.get(f"/admin/challenges/challenge/{world.a.id}/change/")
    assert "organizers" not in challenge_form.context["adminform"].form.fields
    assert client.get("/admin/challenges/challenge/add/").status_code == 403
    assert client.get("/admin/challenges/participation/add/").status_code == 403  # people join
    assert client.get("/admin/challenges/phase/add/").status_code == 200


def test_an_organizer_acts_on_their_own_challenge_only(world):
    client = logged_in(world.organizer_a)
    pending_a = factories.participant(world.phase_a, "dan", status=Participation.PENDING)
    pending_b = factories.participant(world.phase_b, "eve", status=Participation.PENDING)
    both = Participation.objects.filter(user__in=[pending_a, pending_b])
    client.post("/admin/challenges/participation/", {
        "action": "approve_selected", "_selected_action": [str(p.pk) for p in both]})
    assert dict(both.values_list("user__username", "status")) == {
        "dan": Participation.ACCEPTED, "eve": Participation.PENDING}

    mine = queued_submission(world.phase_a, world.ann)
    theirs = queued_submission(world.phase_b, world.cat)
    assert client.post(f"/api/v1/submissions/{theirs.id}/cancel/").status_code == 404
    assert client.post(f"/api/v1/submissions/{mine.id}/cancel/").status_code == 200
    assert (current_state(mine), current_state(theirs)) == (State.CANCELLED, State.QUEUED)


def test_only_platform_administrators_see_tokens_and_accounts(world):
    factories.token(world.ann)
    for user in (world.staff, world.organizer_a):
        client = logged_in(user)
        for url in ("/admin/accounts/apitoken/", "/admin/accounts/loginfailure/",
                    "/admin/auth/user/", "/admin/auth/group/"):
            assert client.get(url).status_code == 403, (user, url)
        app_labels = {app["app_label"] for app in client.get("/admin/").context["app_list"]}
        assert app_labels <= {"challenges", "evaluation", "leaderboard", "admin"}  # audit log
    # Model permissions a platform administrator hands out do not open these tables either.
    world.organizer_a.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_apitoken", "change_apitoken", "view_user"]))
    client = logged_in(get_user_model().objects.get(pk=world.organizer_a.pk))
    assert client.get("/admin/accounts/apitoken/").status_code == 403
    assert client.get("/admin/auth/user/").status_code == 403
    assert logged_in(world.superuser).get("/admin/accounts/apitoken/").status_code == 200


# --- organizers, in the API and on the pages ------------------------------------------------

def test_an_organizer_sees_their_challenges_submissions_and_not_anothers(world):
    client = logged_in(world.organizer_a)
    detail = client.get(f"/api/v1/submissions/{world.team_submission.id}/")
    assert detail.status_code == 200
    assert detail.json()["results"]["aggregate"]["1"]["dice"] == pytest.approx(0.81234)  # exact
    assert client.get(f"/submissions/{world.team_submission.id}/").status_code == 200
    assert client.get(f"/api/v1/submissions/{world.b_submission.id}/").status_code == 404
    assert client.get(f"/submissions/{world.b_submission.id}/").status_code == 404
    assert client.get(f"/api/v1/challenges/{world.b.slug}/").status_code == 404
    # The participant sees the phase's rounding; only the organizers see exact scores.
    participant = logged_in(world.ann).get(f"/api/v1/submissions/{world.team_submission.id}/")
    assert participant.json()["results"]["aggregate"]["1"]["dice"] == 0.81


def test_an_organizer_without_staff_status_sees_the_pages_but_not_the_console(world):
    organizer = factories.user("pages-only")
    world.b.organizers.add(organizer)
    client = logged_in(organizer)
    assert client.get(f"/challenges/{world.b.slug}/").status_code == 200
    assert client.get(f"/api/v1/submissions/{world.b_submission.id}/").status_code == 200
    assert client.get(f"/api/v1/phases/{world.phase_b.id}/leaderboard/").status_code == 200
    assert client.get("/admin/").status_code == 302  # to the console's login


# --- participants ---------------------------------------------------------------------------

def team_views(client: Client, submission: Submission) -> list[int]:
    return [client.get(f"/api/v1/submissions/{submission.id}/").status_code,
            client.get(f"/submissions/{submission.id}/").status_code]


def test_a_team_member_sees_the_teams_submission_until_rejected(world):
    client = logged_in(world.bea)
    assert team_views(client, world.team_submission) == [200, 200]
    Participation.objects.filter(user=world.bea).update(status=Participation.REJECTED)
    assert team_views(client, world.team_submission) == [404, 404]
    assert "0.81" not in client.get(f"/phases/{world.phase_a.id}/submit/").content.decode()


def test_a_member_moved_out_of_the_team_no_longer_sees_its_submissions(world):
    client = logged_in(world.bea)
    Participation.objects.filter(user=world.bea).update(team=None)
    assert team_views(client, world.team_submission) == [404, 404]
    Team.objects.create(challenge=world.a, name="Beta")
    Participation.objects.filter(user=world.bea).update(
        team=Team.objects.get(name="Beta"))
    assert team_views(client, world.team_submission) == [404, 404]


def test_a_rejected_participant_loses_even_their_own_results_and_cannot_cancel(world):
    lone = factories.participant(world.phase_a, "lone")
    scored = scored_evaluation(world.phase_a, lone, VALUES).submission
    waiting = queued_submission(world.phase_a, lone)
    client = logged_in(lone)
    assert team_views(client, scored) == [200, 200]
    Participation.objects.filter(user=lone).update(status=Participation.REJECTED)
    assert team_views(client, scored) == [404, 404]
    assert client.get(f"/api/v1/phases/{world.phase_a.id}/submissions/").json()["results"] == []
    assert client.post(f"/api/v1/submissions/{waiting.id}/cancel/").status_code == 404
    assert current_state(waiting) == State.QUEUED


def test_a_teammate_sees_but_cannot_cancel_the_submission_of_another_member(world):
    waiting = queued_submission(world.phase_a, world.ann)
    Submission.objects.filter(pk=waiting.pk).update(team=world.team)
    client = logged_in(world.bea)
    assert client.get(f"/api/v1/submissions/{waiting.id}/").status_code == 200
    assert client.post(f"/api/v1/submissions/{waiting.id}/cancel/").status_code == 403
    assert logged_in(world.ann).post(f"/api/v1/submissions/{waiting.id}/cancel/"
                                     ).status_code == 200
    assert current_state(waiting) == State.CANCELLED


# --- platform administrators ----------------------------------------------------------------

def test_a_superuser_sees_everything(world):
    client = logged_in(world.superuser)
    assert client.get(f"/challenges/{world.b.slug}/").status_code == 200
    for submission in (world.team_submission, world.b_submission):
        assert team_views(client, submission) == [200, 200]
    for phase in (world.phase_a, world.phase_b):
        assert client.get(f"/api/v1/phases/{phase.id}/leaderboard/").status_code == 200
    listing = client.get("/admin/evaluation/submission/")
    shown = {obj.pk for obj in listing.context["cl"].result_list}
    assert {world.team_submission.pk, world.b_submission.pk} <= shown
    for model, row in CHANGELISTS.items():
        assert client.get(f"/admin/{model}/{row(world)}/change/").status_code == 200, model
    assert client.get("/admin/challenges/challenge/add/").status_code == 200
    form = client.get(f"/admin/challenges/challenge/{world.b.id}/change/")
    assert "organizers" in form.context["adminform"].form.fields
    waiting = queued_submission(world.phase_b, world.cat)
    assert client.post(f"/api/v1/submissions/{waiting.id}/cancel/").status_code == 200

