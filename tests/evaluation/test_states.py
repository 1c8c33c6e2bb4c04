"""The evaluation state machine (the reaper that uses it: test_reaper.py)."""

import pytest

from evaluation.models import TERMINAL_STATES, Evaluation, State
from evaluation.states import TRANSITIONS, InvalidTransition, heartbeat, transition

pytestmark = pytest.mark.django_db


def test_terminal_states_have_no_way_out():
    for state in TERMINAL_STATES:
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


def test_one_active_evaluation_per_submission(evaluation):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Evaluation.objects.create(submission=evaluation.submission,
                                  ground_truth=evaluation.ground_truth, metric_config={})
