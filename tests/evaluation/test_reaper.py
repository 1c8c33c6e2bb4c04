"""The reaper: work whose worker went silent is queued again (or failed after too many
attempts), and messages that waited too long are sent again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from evaluation.models import Evaluation, State
from evaluation.services import reaper
from evaluation.states import transition

pytestmark = pytest.mark.django_db


def age(evaluation, seconds: int, field: str = "heartbeat_at"):
    Evaluation.objects.filter(pk=evaluation.pk).update(
        **{field: timezone.now() - timedelta(seconds=seconds)})


def test_reaper_requeues_silent_work_and_fails_it_after_max_attempts(evaluation, settings,
                                                                     django_capture_on_commit_callbacks):
    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 60
    settings.PODIUM_MAX_ATTEMPTS = 2
    transition(evaluation.id, State.SCORING, worker="w1", attempts=1)
    age(evaluation, 30)
    assert reaper.reap()["requeued"] == 0  # still alive
    age(evaluation, 120)
    with django_capture_on_commit_callbacks() as sent:
        assert reaper.reap()["requeued"] == 1
    assert len(sent) == 1  # sent to the queue again
    requeued = Evaluation.objects.get(pk=evaluation.pk)
    assert requeued.state == State.QUEUED and requeued.worker == ""
    assert "went silent" in requeued.organizer_log

    transition(evaluation.id, State.SCORING, worker="w2", attempts=2)
    age(evaluation, 120)
    assert reaper.reap()["failed"] == 1
    failed = Evaluation.objects.get(pk=evaluation.pk)
    assert failed.state == State.FAILED
    assert "stopped responding 2 times" in failed.participant_message
    assert "w2" not in failed.participant_message


def test_reaper_resends_long_waiting_messages_without_changing_state(
        evaluation, settings, django_capture_on_commit_callbacks):
    settings.PODIUM_REQUEUE_QUEUED_AFTER_S = 600
    age(evaluation, 60, "enqueued_at")
    with django_capture_on_commit_callbacks() as sent:
        assert reaper.reap()["resent"] == 0
    age(evaluation, 3600, "enqueued_at")
    with django_capture_on_commit_callbacks() as sent:
        assert reaper.reap()["resent"] == 1
    assert len(sent) == 1
    assert Evaluation.objects.get(pk=evaluation.pk).state == State.QUEUED
