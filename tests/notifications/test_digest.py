"""The organizers' daily digest: its contents, who gets it, the management command."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from challenges.models import Participation
from evaluation import notifications
from evaluation.models import State, Submission
from evaluation.services import scoring
from tests import factories

from .conftest import body, finished, organizer_of

pytestmark = pytest.mark.django_db


def test_the_digest_lists_pending_participants_internal_errors_and_new_submissions(
        mailbox, phase):
    challenge = phase.task.challenge
    challenge.title = "Liver Decathlon"
    challenge.save()
    organizer_of(phase, "dora", organizer_digest="daily")
    organizer_of(phase, "ivan")  # immediate mail: no digest
    quiet = factories.phase(slug="quiet")
    organizer_of(quiet, "dora2", organizer_digest="daily")
    now = timezone.now()
    old = now - timedelta(days=2)
    factories.participant(phase, "newbie", status=Participation.PENDING)
    Participation.objects.filter(user=factories.participant(
        phase, "waiting", status=Participation.PENDING)).update(created=old)
    rex = factories.participant(phase, "rex")
    _, running = finished(phase, rex, State.SCORING)
    neutral = scoring.neutral_message(running)
    _, broken = finished(phase, rex, State.FAILED, participant_message=neutral,
                         finished_at=now - timedelta(hours=1))
    _, stale = finished(phase, rex, State.FAILED, participant_message=neutral, finished_at=old)
    finished(phase, rex, State.FAILED, participant_message="case case_a: missing",
             finished_at=now - timedelta(hours=1))
    Submission.objects.filter(evaluations=stale).update(created=old)
    assert notifications.send_digests(timezone.now()) == 1
    mail = mailbox.wait_for("dora@example.org")
    assert mail["Subject"] == "[Podium] Daily digest: Liver Decathlon"
    text = body(mail)
    assert "Participants awaiting approval: 2 (1 new)" in text and "newbie" in text
    assert "waiting" not in text.split("Participants awaiting approval")[1].split("Approve")[0]
    assert "/admin/challenges/participation/?challenge__id__exact=" in text
    assert "Evaluations that failed with an internal error: 1" in text
    assert f"/admin/evaluation/evaluation/{broken.id}/change/" in text
    assert str(stale.id) not in text
    assert "Task01_Test / Test: 3" in text  # the rows above but the stale one
    assert [m["To"] for m in mailbox.messages()] == ["dora@example.org"]


def test_no_digest_when_nothing_happened_and_the_command_says_so(mailbox, phase, capsys):
    organizer_of(phase, "dora", organizer_digest="daily")
    call_command("send_digests")
    assert "0 digest(s) sent." in capsys.readouterr().out
    factories.submission(phase, factories.participant(phase, "sam"))
    call_command("send_digests")
    assert "1 digest(s) sent." in capsys.readouterr().out
    assert "Task01_Test / Test: 1" in body(mailbox.wait_for("dora@example.org"))


def test_no_digest_without_a_verified_address(mailbox, phase):
    organizer = organizer_of(phase, "uma", organizer_digest="daily")
    organizer.emailaddress_set.update(verified=False)
    factories.submission(phase, factories.participant(phase, "tim"))
    assert notifications.send_digests() == 0
