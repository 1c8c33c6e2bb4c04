"""The evaluation state machine: one table of allowed moves and one function that makes them.

Every state change goes through :func:`transition`, inside a transaction with the row locked, so
two workers (or a worker and the reaper, or a cancel) can never both move the same row.
"""

from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import TERMINAL_STATES, Evaluation, State

TRANSITIONS: dict[str, frozenset[str]] = {
    State.VALIDATING: frozenset({State.QUEUED, State.FAILED, State.CANCELLED}),
    State.QUEUED: frozenset(
        {State.RUNNING_ALGORITHM, State.SCORING, State.FAILED, State.CANCELLED}
    ),
    # Back to queued: the reaper re-queues work whose worker went silent.
    State.RUNNING_ALGORITHM: frozenset(
        {State.SCORING, State.QUEUED, State.FAILED, State.CANCELLED}
    ),
    State.SCORING: frozenset({State.SUCCEEDED, State.QUEUED, State.FAILED, State.CANCELLED}),
    State.SUCCEEDED: frozenset(),
    State.FAILED: frozenset(),
    State.CANCELLED: frozenset(),
}

# Called (after commit) with the evaluation whenever one reaches a terminal state.
_finished_hooks: list[Callable[[Evaluation], None]] = []


class InvalidTransition(Exception):
    """The evaluation is not in a state from which the requested move is allowed."""


def on_finished(hook: Callable[[Evaluation], None]) -> Callable[[Evaluation], None]:
    """Register a hook run after commit when an evaluation reaches a terminal state."""
    _finished_hooks.append(hook)
    return hook


def transition(
    evaluation_id,
    to: str,
    *,
    allowed_from: Iterable[str] | None = None,
    holding: int | None = None,
    **fields,
) -> Evaluation:
    """Move one evaluation to state ``to``, setting ``fields`` in the same write.

    ``allowed_from`` narrows the table for this call (e.g. a worker claims only ``queued``
    rows). A worker passes the lease it is ``holding`` (from its claim), so that it cannot
    move an evaluation that was taken away from it and claimed again. Raises
    :class:`InvalidTransition` if the move is not allowed.
    """
    with transaction.atomic():
        evaluation = Evaluation.objects.select_for_update().get(pk=evaluation_id)
        current = evaluation.state
        if to not in TRANSITIONS[current] or (
            allowed_from is not None and current not in set(allowed_from)
        ):
            raise InvalidTransition(f"evaluation {evaluation_id}: {current} → {to} not allowed")
        if holding is not None and evaluation.lease != holding:
            raise InvalidTransition(f"evaluation {evaluation_id}: lease {holding} has expired")
        now = timezone.now()
        evaluation.state = to
        if to in (State.RUNNING_ALGORITHM, State.SCORING):
            evaluation.heartbeat_at = now
            evaluation.started_at = evaluation.started_at or now
        if to == State.QUEUED:
            evaluation.enqueued_at = now
        if to in TERMINAL_STATES:
            evaluation.finished_at = now
        for name, value in fields.items():
            setattr(evaluation, name, value)
        evaluation.save()
        if to in TERMINAL_STATES:
            for hook in _finished_hooks:
                transaction.on_commit(lambda hook=hook: hook(evaluation), robust=True)
    return evaluation


def heartbeat(evaluation_id, *, state: str, lease: int, advance: int = 0) -> bool:
    """Record that the worker holding ``lease`` is alive on an evaluation still in ``state``,
    and that it finished ``advance`` more cases (added atomically: shards report at once).

    Returns False when the evaluation has left that state or lease (cancelled, or reaped and
    claimed by another worker): the caller must stop working on it.
    """
    return Evaluation.objects.filter(pk=evaluation_id, state=state, lease=lease).update(
        heartbeat_at=timezone.now(), cases_done=F("cases_done") + advance
    ) == 1
