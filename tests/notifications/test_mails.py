"""Mails about evaluations, received by a real SMTP server process: the result to the
submitter (opt-out, verified address only, nothing hidden), internal errors to the organizers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from challenges.models import Participation, Team
from evaluation import notifications
from evaluation.models import CaseResult, Evaluation, State, Submission
from evaluation.services import algorithm, reaper, scoring, validation
from tests import factories

from .conftest import body, finished, organizer_of, with_address

pytestmark = pytest.mark.django_db

SECRET_LOG = "Traceback: /srv/podium/private/groundtruth/labels_secret.nii.gz"


def test_a_success_mail_shows_the_rounded_aggregate_and_links_the_submission(mailbox, phase):
    ada = with_address(factories.participant(phase, "ada"))
    submission, evaluation = finished(phase, ada, organizer_log=SECRET_LOG)
    CaseResult.objects.create(evaluation=evaluation, case="case_a", label=1,
                              values={"dice": 0.123456, "hd95": 7.654321})
    assert notifications.send_finished(evaluation.id) == 1
    mail = mailbox.wait_for("ada@example.org")
    text = body(mail)
    assert "was scored" in mail["Subject"] and "preds.zip" in mail["Subject"]
    assert "organ  0.8800  3.14" in text
    assert "0.876543" not in text and "0.8765" not in text and "3.1416" not in text
    assert f"http://127.0.0.1:8000/submissions/{submission.id}/" in text
    # Neither the organizer log nor per-case values: the phase hides them from participants.
    assert "labels_secret" not in text and "/srv/" not in text
    assert "case_a" not in text and "0.1235" not in text and "7.6543" not in text


def test_a_phase_that_hides_scores_mails_the_outcome_without_them(mailbox, settings):
    settings.PODIUM_BASE_URL = "https://podium.example.org/"
    hidden = factories.phase(slug="hidden", metrics=["dice"], show_scores=False)
    bo = with_address(factories.participant(hidden, "bo"))
    submission, evaluation = finished(hidden, bo)
    notifications.send_finished(evaluation.id)
    text = body(mailbox.wait_for("bo@example.org"))
    assert "was scored" in text and "0.8" not in text and "Scores" not in text
    assert f"https://podium.example.org/submissions/{submission.id}/" in text


def test_a_failure_mail_carries_the_participants_message(mailbox, phase):
    cy = with_address(factories.participant(phase, "cy"))
    message = "case case_b: prediction shape (8, 8, 3) does not match the image (8, 8, 4)"
    _, evaluation = finished(phase, cy, State.FAILED, participant_message=message,
                             organizer_log=SECRET_LOG)
    notifications.send_finished(evaluation.id)
    mail = mailbox.wait_for("cy@example.org")
    assert "failed" in mail["Subject"]
    assert message in body(mail) and "labels_secret" not in body(mail)


def test_no_mail_to_who_opted_out_or_has_no_verified_address(mailbox, phase):
    quiet = with_address(factories.participant(phase, "quiet"), notify_results=False)
    unverified = with_address(factories.participant(phase, "unverified"), verified=False)
    nobody = factories.participant(phase, "nobody")
    loud = with_address(factories.participant(phase, "loud"))
    for creator in (quiet, unverified, nobody):
        assert notifications.send_finished(finished(phase, creator)[1].id) == 0
    assert notifications.send_finished(finished(phase, loud)[1].id) == 1
    mailbox.wait_for("loud@example.org")
    assert [m["To"] for m in mailbox.messages()] == ["loud@example.org"]


def test_the_submitter_only_is_mailed_not_their_team(mailbox, phase):
    dee, eve = (with_address(factories.participant(phase, name)) for name in ("dee", "eve"))
    team = Team.objects.create(challenge=phase.task.challenge, name="Owls")
    Participation.objects.filter(user__in=[dee, eve]).update(team=team)
    submission, evaluation = finished(phase, dee)
    Submission.objects.filter(pk=submission.pk).update(team=team)
    notifications.send_finished(evaluation.id)
    mailbox.wait_for("dee@example.org")
    assert "Owls" not in mailbox.to("dee@example.org")[0]["To"]
    assert mailbox.to("eve@example.org") == []


def test_an_unfinished_or_cancelled_evaluation_sends_nothing(mailbox, phase):
    fay = with_address(factories.participant(phase, "fay"))
    for state in (State.SCORING, State.CANCELLED):
        assert notifications.send_finished(finished(phase, fay, state)[1].id) == 0


@pytest.mark.parametrize("service, stopped", [
    (scoring, notifications.SCORING_STOPPED),
    (validation, notifications.CHECKING_STOPPED),
    (algorithm, notifications.RUN_STOPPED),
])
def test_the_neutral_message_says_how_the_organizers_hear_of_it(phase, service, stopped):
    _, evaluation = finished(phase, factories.participant(phase), State.SCORING)
    assert service.neutral_message(evaluation).startswith(
        f"{stopped} because of an internal error; the organizers can see it in their console.")
    daily = organizer_of(phase, "daily", organizer_digest="daily")
    assert "will see it in their daily email digest" in service.neutral_message(evaluation)
    organizer_of(phase, "unverified", verified=False)
    organizer_of(phase, "silent", organizer_digest="off")
    assert "will see it in their daily" in service.neutral_message(evaluation)
    daily.profile.organizer_digest = "immediate"
    daily.profile.save()
    assert "the organizers have been notified by email" in service.neutral_message(evaluation)


def test_an_internal_error_mails_the_organizers_with_the_log_and_the_participant_neutrally(
        mailbox, phase):
    gil = with_address(factories.participant(phase, "gil"))
    organizer_of(phase, "olga")
    organizer_of(phase, "otto", organizer_digest="daily")
    organizer_of(phase, "ola", organizer_digest="off")
    _, running = finished(phase, gil, State.SCORING)
    message = scoring.neutral_message(running)
    _, evaluation = finished(phase, gil, State.FAILED, participant_message=message,
                             organizer_log="ValueError: the reference cache is corrupt")
    assert notifications.send_finished(evaluation.id) == 2
    to_olga = mailbox.wait_for("olga@example.org")
    assert "internal error" in to_olga["Subject"]
    text = body(to_olga)
    assert "the reference cache is corrupt" in text and message in text
    assert f"/admin/evaluation/evaluation/{evaluation.id}/change/" in text
    to_gil = body(mailbox.wait_for("gil@example.org"))
    assert "the organizers have been notified by email" in to_gil
    assert "reference cache" not in to_gil
    assert sorted(m["To"] for m in mailbox.messages()) == ["gil@example.org", "olga@example.org"]
    assert all(m["To"].count("@") == 1 for m in mailbox.messages())


def test_a_participants_own_failure_is_not_an_internal_error(mailbox, phase):
    organizer_of(phase, "oona")
    hal = factories.participant(phase, "hal")
    trick = f"case {notifications.SCORING_STOPPED} because of an internal error; shape"
    _, evaluation = finished(phase, hal, State.FAILED, participant_message=trick)
    assert notifications.send_finished(evaluation.id) == 0
    assert mailbox.messages() == []


def test_work_given_up_by_the_reaper_is_an_internal_error_the_organizers_hear_of(
        mailbox, phase, settings):
    settings.PODIUM_MAX_ATTEMPTS = 1
    organizer_of(phase, "olga")
    _, evaluation = finished(phase, factories.participant(phase, "ivo"), State.SCORING,
                             attempts=1, worker="w1")
    Evaluation.objects.filter(pk=evaluation.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1))
    assert reaper.reap()["failed"] == 1
    evaluation.refresh_from_db()
    assert evaluation.participant_message == (
        "Work on this submission stopped because of an internal error; the organizers have "
        "been notified by email. Its worker stopped responding 1 times.")
    assert notifications.send_finished(evaluation.id) == 1
    assert "went silent" in body(mailbox.wait_for("olga@example.org"))
