"""Which submission counts (evaluation/selection.py): the rule under latest, best and the team's
choice; choosing from the pages and the API, and every refusal; the leaderboard ranking the
chosen submission after the refresh the choice asks for."""

from datetime import timedelta

import pytest
from celery.signals import before_task_publish
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from challenges.models import Participation, Phase, Team
from core.errors import InvalidInput, Refused
from evaluation.models import Submission
from evaluation.selection import choose
from leaderboard import task_names, tasks
from leaderboard.describe import describe_phase
from leaderboard.models import LeaderboardSnapshot
from tests import factories
from tests.leaderboard.helpers import labelled_phase, scored_evaluation

pytestmark = pytest.mark.django_db

BUTTON = '<button type="submit">Count this submission on the leaderboard</button>'
MARKER = '<strong class="counts-marker">counts on the leaderboard</strong>'  # submission page
ROW_MARKER = ('<strong class="counts-marker" title="This submission counts on the leaderboard">'
              "counts</strong>")  # a row of a list


def scored(phase, user, dice: float, *, ago: int, team=None) -> Submission:
    """A succeeded submission made ``ago`` minutes ago whose one case scores ``dice``."""
    evaluation = scored_evaluation(phase, user, {("a", 1): {"dice": dice}}, team=team)
    Submission.objects.filter(pk=evaluation.submission_id).update(
        created=timezone.now() - timedelta(minutes=ago))
    return Submission.objects.get(pk=evaluation.submission_id)


def unscored(phase, user, state: str, *, ago: int, team=None) -> Submission:
    submission, _ = factories.submission(phase, user, state=state)
    Submission.objects.filter(pk=submission.pk).update(
        team=team, created=timezone.now() - timedelta(minutes=ago))
    return Submission.objects.get(pk=submission.pk)


@pytest.fixture
def world():
    """A phase whose teams choose: team Segmenters (alice, bob) made an older Dice 0.9
    submission, a newer Dice 0.6 one and a newest that failed; team Others (carol) a Dice 0.7
    one. An organizer who is not a participant."""
    phase = labelled_phase(cases=["a"], bootstrap_samples=0, show_scores=True,
                           leaderboard_selection=Phase.SELECTED)
    alice, bob = factories.participant(phase, "alice"), factories.participant(phase, "bob")
    carol = factories.participant(phase, "carol")
    team = Team.objects.create(challenge=phase.challenge, name="Segmenters")
    others = Team.objects.create(challenge=phase.challenge, name="Others")
    Participation.objects.filter(user__in=[alice, bob]).update(team=team)
    Participation.objects.filter(user=carol).update(team=others)
    organizer = factories.user("organizer")
    phase.challenge.organizers.add(organizer)
    return {
        "phase": phase, "team": team, "alice": alice, "bob": bob, "carol": carol,
        "organizer": organizer,
        "old": scored(phase, alice, 0.9, ago=30, team=team),
        "new": scored(phase, bob, 0.6, ago=20, team=team),
        "failed": unscored(phase, alice, "failed", ago=10, team=team),
        "theirs": scored(phase, carol, 0.7, ago=25, team=others),
    }


def api(user, submission, action=""):
    client = factories.api_client(user)
    if action:
        return client.post(f"/api/v1/submissions/{submission.id}/{action}/")
    return client.get(f"/api/v1/submissions/{submission.id}/")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def marks(user, *submissions) -> list:
    """(counts, selected) of each submission, as the API shows them to ``user``."""
    return [(body["counts"], body["selected"])
            for body in (api(user, s).json() for s in submissions)]


# The rule


def test_until_a_team_chooses_its_latest_successful_submission_counts(world):
    w = world
    assert marks(w["alice"], w["old"], w["new"], w["failed"]) == [
        (False, False), (True, False), (False, False)]
    assert marks(w["carol"], w["theirs"]) == [(True, False)]


def test_a_member_chooses_and_a_new_choice_replaces_the_old_one(world):
    w = world
    response = api(w["bob"], w["old"], "select")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(w["old"].id) and body["counts"] and body["selected"]
    chosen = Submission.objects.get(pk=w["old"].pk)
    assert chosen.selected_by == w["bob"]
    assert timezone.now() - chosen.selected_at < timedelta(minutes=1)
    assert marks(w["alice"], w["old"], w["new"]) == [(True, True), (False, False)]

    assert api(w["alice"], w["new"], "select").status_code == 200
    assert marks(w["bob"], w["old"], w["new"]) == [(False, False), (True, True)]
    assert list(Submission.objects.filter(selected_at__isnull=False)
                .values_list("pk", "selected_by")) == [(w["new"].pk, w["alice"].pk)]
    # The other team's submission is untouched by both choices.
    assert marks(w["carol"], w["theirs"]) == [(True, False)]


def test_choosing_the_chosen_submission_again_changes_nothing(world):
    first = choose(world["old"], world["alice"])
    again = choose(Submission.objects.get(pk=world["old"].pk), world["bob"])
    assert Submission.objects.get(pk=again.pk).selected_by == world["alice"]
    assert Submission.objects.get(pk=again.pk).selected_at == first.selected_at


def test_the_database_holds_one_choice_per_team_and_phase(world):
    now = timezone.now()
    Submission.objects.filter(pk=world["old"].pk).update(selected_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.filter(pk=world["new"].pk).update(selected_at=now)
    # Another team may choose in the same phase.
    Submission.objects.filter(pk=world["theirs"].pk).update(selected_at=now)


def test_a_participant_without_a_team_chooses_their_own(world):
    phase = world["phase"]
    dave = factories.participant(phase, "dave")
    first, second = scored(phase, dave, 0.8, ago=40), scored(phase, dave, 0.5, ago=5)
    assert marks(dave, first, second) == [(False, False), (True, False)]
    assert api(dave, first, "select").status_code == 200
    assert marks(dave, first, second) == [(True, True), (False, False)]


def test_under_latest_and_best_the_pages_and_the_api_show_which_counts(world):
    w = world
    Phase.objects.filter(pk=w["phase"].pk).update(leaderboard_selection=Phase.LATEST)
    assert marks(w["alice"], w["old"], w["new"]) == [(False, False), (True, False)]
    Phase.objects.filter(pk=w["phase"].pk).update(leaderboard_selection=Phase.BEST)
    assert marks(w["alice"], w["old"], w["new"]) == [(True, False), (False, False)]
    html = logged_in(w["alice"]).get(f"/phases/{w['phase'].id}/submit/").content.decode()
    assert html.count(ROW_MARKER) == 1 and BUTTON not in html
    assert "Your team&#x27;s best submission counts (by Dice)" in html


def test_under_best_with_hidden_scores_which_counts_is_withheld_from_participants(world):
    w = world
    Phase.objects.filter(pk=w["phase"].pk).update(leaderboard_selection=Phase.BEST,
                                                  show_scores=False)
    assert marks(w["alice"], w["old"], w["new"]) == [(None, False), (None, False)]
    assert ROW_MARKER not in logged_in(w["alice"]).get(f"/teams/{w['team'].id}/").content.decode()
    assert marks(w["organizer"], w["old"], w["new"]) == [(True, False), (False, False)]


# Refusals


@pytest.mark.parametrize("case, status, message", [
    ("closed phase", 409, "the phase closed at"),
    ("latest phase", 409, "does not let entrants choose"),
    ("failed", 400, "only a succeeded submission can count on the leaderboard; this one failed"),
    ("queued", 409, "still being checked or scored"),
    ("another team's", 404, ""),
    ("rejected", 403, "your participation in this challenge was not approved"),
    ("removed from the team", 403, "you are not a member of the team that made this"),
    ("organizer", 403, "only an accepted participant of the challenge can choose"),
])
def test_refused_choices_answer_a_clear_error_and_change_nothing(world, case, status, message):
    w = world
    user, submission = w["alice"], w["old"]
    if case == "closed phase":
        Phase.objects.filter(pk=w["phase"].pk).update(closes_at=timezone.now())
    elif case == "latest phase":
        Phase.objects.filter(pk=w["phase"].pk).update(leaderboard_selection=Phase.LATEST)
    elif case == "failed":
        submission = w["failed"]
    elif case == "queued":
        submission = unscored(w["phase"], user, "queued", ago=1, team=w["team"])
    elif case == "another team's":
        user = w["carol"]
    elif case == "rejected":
        Participation.objects.filter(user=user).update(status=Participation.REJECTED)
    elif case == "removed from the team":
        Participation.objects.filter(user=user).update(team=None)
    elif case == "organizer":
        user = w["organizer"]
    response = api(user, submission, "select")
    assert response.status_code == status
    assert set(response.json()) == {"detail"}
    assert message in response.json()["detail"]
    assert not Submission.objects.filter(selected_at__isnull=False).exists()
    assert not LeaderboardSnapshot.objects.filter(refresh_requested_at__isnull=False).exists()


def test_the_service_refuses_with_the_error_family(world):
    with pytest.raises(InvalidInput):
        choose(world["failed"], world["alice"])
    with pytest.raises(Refused):
        choose(world["theirs"], world["alice"])


def test_choosing_needs_a_login_and_a_post(world):
    url = f"/api/v1/submissions/{world['old'].id}/select/"
    assert factories.api_client().post(url).status_code == 401
    assert factories.api_client(world["alice"]).get(url).status_code == 405
    assert factories.api_client(world["alice"]).post(
        f"/api/v1/submissions/{world['phase'].id}/select/").status_code == 404


# The leaderboard


@pytest.fixture
def published():
    """The name and kwargs of every Celery task published meanwhile (to the real broker)."""
    seen = []

    def record(sender=None, body=None, **_):
        seen.append((sender, body[1] if body else None))

    before_task_publish.connect(record, weak=False)
    yield seen
    before_task_publish.disconnect(record)


def test_the_leaderboard_ranks_the_chosen_submission_after_the_refresh_it_asks_for(
        world, published, django_capture_on_commit_callbacks):
    w = world
    tasks.refresh(phase_id=str(w["phase"].id))
    entries = LeaderboardSnapshot.objects.get(phase=w["phase"]).entries
    assert [(e["entrant"], e["evaluation"]) for e in entries] == [
        ("Others", str(w["theirs"].evaluations.get().id)),
        ("Segmenters", str(w["new"].evaluations.get().id))]
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        api(w["bob"], w["old"], "select")
    assert published == [(task_names.REFRESH, {"phase_id": str(w["phase"].id)})]
    assert LeaderboardSnapshot.objects.get(phase=w["phase"]).refresh_pending
    with django_capture_on_commit_callbacks(execute=True):
        tasks.refresh(phase_id=str(w["phase"].id))
    entries = LeaderboardSnapshot.objects.get(phase=w["phase"]).entries
    assert [(e["entrant"], e["evaluation"]) for e in entries] == [
        ("Segmenters", str(w["old"].evaluations.get().id)),
        ("Others", str(w["theirs"].evaluations.get().id))]


def test_a_chosen_submission_without_a_current_score_gives_way_to_the_latest(world):
    w = world
    choose(w["old"], w["alice"])
    w["old"].evaluations.update(metric_config={"kind": "segmentation", "metrics": ["dice"]})
    assert marks(w["alice"], w["old"], w["new"]) == [(False, True), (True, False)]
    html = logged_in(w["alice"]).get(f"/submissions/{w['old'].id}/").content.decode()
    assert "chosen, but without a score under the current ground truth and scoring" in html


# Pages


def test_the_phase_page_says_the_rule_and_marks_the_submission_that_counts(world):
    w = world
    html = logged_in(w["alice"]).get(f"/phases/{w['phase'].id}/submit/").content.decode()
    assert ("Your team chooses the submission that counts" in html
            and "until then your team&#x27;s latest successful submission counts" in html)
    assert html.count(ROW_MARKER) == 1
    # A button for each succeeded submission but the one chosen (none yet): old and new.
    assert html.count(BUTTON) == 2
    assert html.count(f'action="/submissions/{w["failed"].id}/select/"') == 0


def test_choosing_on_the_submission_page(world):
    w = world
    client = logged_in(w["bob"])
    html = client.get(f"/submissions/{w['old'].id}/").content.decode()
    assert BUTTON in html and "csrfmiddlewaretoken" in html and MARKER not in html
    assert ("does not count; the leaderboard ranks each entrant's chosen submission (until the "
            "team chooses: its latest successful one)" in html)
    response = client.post(f"/submissions/{w['old'].id}/select/", follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/submissions/{w['old'].id}/"
    assert "This submission now counts on the leaderboard" in html
    assert MARKER in html and "chosen by bob on" in html and BUTTON not in html


def test_choosing_on_the_team_page_returns_to_it(world):
    w = world
    client = logged_in(w["alice"])
    url = f"/teams/{w['team'].id}/"
    response = client.post(f"/submissions/{w['old'].id}/select/", {"next": url}, follow=True)
    assert response.redirect_chain[-1][0] == url
    html = response.content.decode()
    assert html.count(ROW_MARKER) == 1 and "(chosen)" in html
    assert html.count(BUTTON) == 1  # the newer one may still be chosen instead
    # Nowhere else than this site.
    response = client.post(f"/submissions/{w['new'].id}/select/",
                           {"next": "https://elsewhere.example/"})
    assert response.url == f"/submissions/{w['new'].id}/"


def test_pages_refuse_with_a_message_and_offer_no_button_where_choosing_is_refused(world):
    w = world
    Phase.objects.filter(pk=w["phase"].pk).update(closes_at=timezone.now())
    client = logged_in(w["alice"])
    assert BUTTON not in client.get(f"/teams/{w['team'].id}/").content.decode()
    response = client.post(f"/submissions/{w['old'].id}/select/", follow=True)
    assert "the phase closed at" in response.content.decode()
    assert not Submission.objects.filter(selected_at__isnull=False).exists()
    # Another team's submission is not found; the organizer sees no button.
    assert logged_in(w["carol"]).post(f"/submissions/{w['old'].id}/select/").status_code == 404
    Phase.objects.filter(pk=w["phase"].pk).update(closes_at=None)
    html = logged_in(w["organizer"]).get(f"/teams/{w['team'].id}/").content.decode()
    assert ROW_MARKER in html and BUTTON not in html


def test_a_rejected_member_is_told_why_on_the_phase_page(world):
    w = world
    Participation.objects.filter(user=w["alice"]).update(status=Participation.REJECTED)
    response = logged_in(w["alice"]).post(f"/submissions/{w['old'].id}/select/", follow=True)
    assert response.redirect_chain[-1][0] == f"/phases/{w['phase'].id}/submit/"
    assert "your participation in this challenge was not approved" in response.content.decode()


def test_the_form_needs_its_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["alice"])
    assert client.post(f"/submissions/{world['old'].id}/select/").status_code == 403
    assert not Submission.objects.filter(selected_at__isnull=False).exists()


def test_the_evaluation_page_words_the_rule():
    phase = factories.phase(leaderboard_selection=Phase.SELECTED)
    ranking = next(s for s in describe_phase(phase) if s.title == "Ranking")
    assert any("ranked by its chosen submission" in s and "until a team chooses, its latest "
               "successful submission counts" in s for s in ranking.sentences)


def test_the_console_phase_form_offers_the_choice(world):
    admin = factories.user("admin", staff=True)
    url = f"/admin/challenges/phase/{world['phase'].id}/change/"
    html = logged_in(admin).get(url).content.decode()
    assert '<option value="selected" selected>chosen submission (until the team chooses: its ' \
           'latest successful one)</option>' in html
