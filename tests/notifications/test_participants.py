"""A participant awaiting approval: the organizers who chose immediate mail hear of it, once the
join has committed, through a Celery task."""

import pytest

from challenges import notifications
from challenges.models import Participation
from challenges.services.participation import join
from tests import factories

from .conftest import body, organizer_of, with_address

pytestmark = pytest.mark.django_db


@pytest.fixture
def gated(phase):
    challenge = phase.task.challenge
    challenge.title = "Gated Decathlon"
    challenge.requires_approval = True
    challenge.save()
    return phase


def test_joining_a_gated_challenge_asks_for_the_mail_after_commit(
        gated, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        participation, created = join(gated.task.challenge, factories.user("ivy"))
    assert created and participation.status == Participation.PENDING
    assert len(callbacks) == 1
    open_phase = factories.phase(slug="open")
    with django_capture_on_commit_callbacks() as callbacks:
        join(open_phase.task.challenge, factories.user("jay"))
    assert callbacks == []


def test_the_pending_mail_reaches_the_immediate_organizers_only(mailbox, gated):
    organizer_of(gated, "olga")
    organizer_of(gated, "otto", organizer_digest="daily")
    organizer_of(gated, "ola", organizer_digest="off")
    organizer_of(gated, "oscar", verified=False)
    kim = with_address(factories.user("kim"), full_name="Kim Lee", affiliation="Lab X")
    participation, _ = join(gated.task.challenge, kim)
    assert notifications.send_pending(participation.id) == 1
    mail = mailbox.wait_for("olga@example.org")
    assert mail["Subject"] == "[Podium] Gated Decathlon: kim awaits your approval"
    text = body(mail)
    assert "kim (Kim Lee, Lab X) joined Gated Decathlon" in text
    assert (f"http://127.0.0.1:8000/admin/challenges/participation/?challenge__id__exact="
            f"{gated.task.challenge.id}&status__exact=pending") in text
    assert [m["To"] for m in mailbox.messages()] == ["olga@example.org"]


def test_an_approved_participant_is_no_longer_announced(mailbox, gated):
    organizer_of(gated, "olga")
    participation, _ = join(gated.task.challenge, factories.user("lou"))
    Participation.objects.filter(pk=participation.pk).update(status=Participation.ACCEPTED)
    assert notifications.send_pending(participation.id) == 0

