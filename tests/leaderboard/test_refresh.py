"""Debounced refresh: a burst of finished evaluations publishes one refresh task (a real Celery
publish to the session's broker, observed through Celery's before_task_publish signal), and the
one computation ranks them all; a changed phase snapshot asks for its challenge's refresh."""

import pytest
from celery.signals import before_task_publish

from evaluation.models import State
from evaluation.states import transition
from leaderboard import services, task_names, tasks
from leaderboard.models import LeaderboardSnapshot
from tests import factories

from .helpers import labelled_phase, scored_evaluation

pytestmark = pytest.mark.django_db


@pytest.fixture
def published():
    """The (task name, kwargs, countdown ETA present) of every task published meanwhile."""
    seen = []

    def record(sender=None, headers=None, body=None, **_):
        seen.append((sender, body[1] if body else None, bool(headers and headers.get("eta"))))

    before_task_publish.connect(record, weak=False)
    yield seen
    before_task_publish.disconnect(record)


def finishing(phase, n):
    """n evaluations in ``scoring`` with their case results written, ready to succeed."""
    evaluations = []
    for k in range(n):
        user = factories.participant(phase, f"burst{k}")
        evaluation = scored_evaluation(phase, user, {("a", 1): {"dice": k / n}})
        type(evaluation).objects.filter(pk=evaluation.pk).update(state=State.SCORING)
        evaluations.append(evaluation)
    return evaluations


def test_a_burst_of_finished_evaluations_computes_once(published,
                                                       django_capture_on_commit_callbacks):
    phase = labelled_phase(cases=["a"], bootstrap_samples=0)
    burst = finishing(phase, 5)
    with django_capture_on_commit_callbacks(execute=True):
        for evaluation in burst:
            transition(evaluation.id, State.SUCCEEDED)
    refreshes = [p for p in published if p[0] == task_names.REFRESH]
    assert refreshes == [(task_names.REFRESH, {"phase_id": str(phase.id)}, True)]
    assert LeaderboardSnapshot.objects.get(phase=phase).refresh_pending

    with django_capture_on_commit_callbacks(execute=True):
        tasks.refresh(phase_id=str(phase.id))  # what the worker runs, once
    snapshot = LeaderboardSnapshot.objects.get(phase=phase)
    assert not snapshot.refresh_pending
    assert [e["entrant"] for e in snapshot.entries] == [f"burst{k}" for k in (4, 3, 2, 1, 0)]
    # The changed phase snapshot asked for the challenge's overall ranking, once.
    overall = [p for p in published if p[0] == task_names.REFRESH_CHALLENGE]
    assert overall == [(task_names.REFRESH_CHALLENGE,
                        {"challenge_id": str(phase.task.challenge_id)}, True)]


def test_an_evaluation_finishing_after_the_refresh_started_asks_again(
        published, django_capture_on_commit_callbacks):
    phase = labelled_phase(cases=["a"], bootstrap_samples=0)
    first, late = finishing(phase, 2)
    with django_capture_on_commit_callbacks(execute=True):
        transition(first.id, State.SUCCEEDED)
    services.refresh(phase.id)  # clears the flag before reading its inputs
    with django_capture_on_commit_callbacks(execute=True):
        transition(late.id, State.SUCCEEDED)
    assert [p[0] for p in published].count(task_names.REFRESH) == 2


def test_failed_evaluations_do_not_refresh(published, django_capture_on_commit_callbacks):
    phase = labelled_phase(cases=["a"], bootstrap_samples=0)
    (evaluation,) = finishing(phase, 1)
    with django_capture_on_commit_callbacks(execute=True):
        transition(evaluation.id, State.FAILED)
    assert task_names.REFRESH not in [p[0] for p in published]


def test_a_refresh_of_a_deleted_phase_ends_quietly():
    phase = labelled_phase(cases=["a"])
    phase_id, challenge_id = str(phase.id), str(phase.task.challenge_id)
    phase.delete()
    tasks.refresh(phase_id=phase_id)
    assert not LeaderboardSnapshot.objects.exists()
    tasks.refresh_challenge(challenge_id="00000000-0000-0000-0000-000000000000")
    tasks.refresh_challenge(challenge_id=challenge_id)  # still there, with no phase left
    assert LeaderboardSnapshot.objects.get(challenge_id=challenge_id).rankings == []


def test_a_request_whose_message_was_lost_is_sent_again(published, settings,
                                                        django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    phase = labelled_phase(cases=["a"], bootstrap_samples=0)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_refresh(phase.id)
        services.request_refresh(phase.id)  # debounced: nothing sent
    assert len([p for p in published if p[0] == task_names.REFRESH]) == 1
    # The message is lost (a killed worker of the embedded broker); later requests re-send it
    # once the request is older than the resend delay.
    LeaderboardSnapshot.objects.filter(phase=phase).update(
        refresh_requested_at=timezone.now()
        - timedelta(seconds=settings.PODIUM_REFRESH_RESEND_AFTER_S + 1))
    with django_capture_on_commit_callbacks(execute=True):
        services.request_refresh(phase.id)
    assert len([p for p in published if p[0] == task_names.REFRESH]) == 2
