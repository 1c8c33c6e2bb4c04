"""Lost messages are sent again after a short timeout, and sending twice never runs work
twice: a second delivery finds the evaluation claimed, and an upload whose checks are running
is not sent again while its checker is alive."""

from datetime import timedelta

import pytest
from django.conf import settings as live_settings
from django.utils import timezone

from evaluation.models import CaseResult, Evaluation, State
from evaluation.services import reaper, scoring
from tests import factories

from .conftest import scored

pytestmark = pytest.mark.django_db


def age(evaluation, **fields):
    Evaluation.objects.filter(pk=evaluation.pk).update(
        **{name: timezone.now() - timedelta(seconds=s) for name, s in fields.items()})


def test_the_default_resend_timeout_is_short():
    assert live_settings.PODIUM_REQUEUE_QUEUED_AFTER_S <= 300
    assert live_settings.PODIUM_REFRESH_RESEND_AFTER_S <= 300


def test_a_queued_evaluation_is_resent_and_a_second_delivery_scores_nothing(
        queued, settings, django_capture_on_commit_callbacks):
    settings.PODIUM_REQUEUE_QUEUED_AFTER_S = 120
    age(queued, enqueued_at=150)
    with django_capture_on_commit_callbacks() as sent:
        assert reaper.reap()["resent"] == 1
    assert len(sent) == 1
    done = scored(queued)
    rows = CaseResult.objects.filter(evaluation=done).count()
    scoring.score(queued.id, worker="second-delivery")
    again = Evaluation.objects.get(pk=queued.pk)
    assert (again.state, again.attempts, again.lease) == (State.SUCCEEDED, 1, done.lease)
    assert CaseResult.objects.filter(evaluation=done).count() == rows == 4


def test_an_upload_being_checked_is_not_sent_to_a_second_checker(settings):
    settings.PODIUM_REQUEUE_QUEUED_AFTER_S = 120
    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 300
    phase = factories.phase()
    _, evaluation = factories.submission(phase, factories.participant(phase),
                                         state=State.VALIDATING)
    Evaluation.objects.filter(pk=evaluation.pk).update(worker="checker", attempts=1)
    age(evaluation, enqueued_at=600, heartbeat_at=10)
    assert reaper.reap()["resent"] == 0  # its checker is alive
    age(evaluation, heartbeat_at=400)
    assert reaper.reap()["resent"] == 1  # its checker went silent
