"""The evaluation state machine and the reaper."""

from datetime import timedelta

import pytest
from django.utils import timezone

from evaluation.models import Evaluation, State
from evaluation.services import reaper
from evaluation.states import TRANSITIONS, InvalidTransition, heartbeat, transition
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def evaluation():
    phase = factories.phase()
    _, evaluation = factories.submission(phase, factories.participant(phase))
    return evaluation


def test_terminal_states_have_no_way_out():
    for state in (State.SUCCEEDED, State.FAILED, State.CANCELLED):
        assert TRANSITIONS[state] == frozenset()
    assert set(TRANSITIONS) == set(State.values)


def test_allowed_path_sets_timestamps(evaluation):
    moved = transition(evaluation.id, State.SCORING, worker="w1")
    assert moved.state == State.SCORING and moved.started_at and moved.heartbeat_at
    done = transition(evaluation.id, State.SUCCEEDED, aggregate={"1": {"dice": 1.0}})
    assert done.finished_at and Evaluation.objects.get(pk=evaluation.pk).aggregate


@pytest.mark.parametrize("path", [[State.SUCCEEDED], [State.SCORING, State.SUCCEEDED, State.QUEUED],
                                  [State.CANCELLED, State.SCORING]])
def test_disallowed_moves_raise_and_change_nothing(evaluation, path):
    *allowed, last = path
    for state in allowed:
        transition(evaluation.id, state)
    before = Evaluation.objects.get(pk=evaluation.pk).state
    with pytest.raises(InvalidTransition):
        transition(evaluation.id, last)
    assert Evaluation.objects.get(pk=evaluation.pk).state == before


def test_allowed_from_narrows_the_table(evaluation):
    transition(evaluation.id, State.SCORING)
    with pytest.raises(InvalidTransition):
        transition(evaluation.id, State.SCORING, allowed_from=[State.QUEUED])


def test_heartbeat_reports_when_the_evaluation_was_taken_away(evaluation):
    held = transition(evaluation.id, State.SCORING, lease=1)
    assert heartbeat(evaluation.id, state=State.SCORING, lease=held.lease, advance=3)
    assert Evaluation.objects.get(pk=evaluation.pk).cases_done == 3
    assert not heartbeat(evaluation.id, state=State.SCORING, lease=held.lease - 1)  # old lease
    transition(evaluation.id, State.CANCELLED)
    assert not heartbeat(evaluation.id, state=State.SCORING, lease=held.lease, advance=1)


def test_a_transition_holding_an_expired_lease_is_refused(evaluation):
    transition(evaluation.id, State.SCORING, lease=2)
    with pytest.raises(InvalidTransition, match="lease 1 has expired"):
        transition(evaluation.id, State.FAILED, holding=1)
    assert transition(evaluation.id, State.SUCCEEDED, holding=2).state == State.SUCCEEDED


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


def test_one_active_evaluation_per_submission(evaluation):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Evaluation.objects.create(submission=evaluation.submission,
                                  ground_truth=evaluation.ground_truth, metric_config={})
