"""The reaper: no evaluation stays in a state nobody will move it out of.

- Running evaluations (algorithm or scoring) whose worker's heartbeat is older than
  PODIUM_HEARTBEAT_TIMEOUT_S go back to ``queued`` and are sent again, or fail once they have
  been tried PODIUM_MAX_ATTEMPTS times.
- Waiting evaluations (uploads waiting for their checks, queued, or outputs waiting for a
  scorer) whose message may have been lost with a killed worker or a broker outage are sent
  again after PODIUM_REQUEUE_QUEUED_AFTER_S (2 min; the checks count their attempts and give
  up after PODIUM_MAX_ATTEMPTS). Sending twice is harmless: a task only claims an evaluation
  that is still waiting, under a row lock, and moves it out of the waiting state in the same
  transaction; an upload whose checks are running is sent again only once its checker's
  heartbeat is older than PODIUM_HEARTBEAT_TIMEOUT_S.
- Task imports started in the console get the same treatment, with the same settings
  (:func:`.import_jobs.reap`).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Evaluation, State
from ..notifications import WORKER_STOPPED, internal_error_message
from ..states import InvalidTransition, transition
from . import import_jobs
from .queueing import enqueue

log = logging.getLogger(__name__)


def reap() -> dict[str, int]:
    """One pass; returns how many evaluations were re-queued, failed and re-sent, and how many
    task imports (``imports_requeued``, ``imports_failed``, ``imports_resent``)."""
    now = timezone.now()
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    stale_before = now - timedelta(seconds=settings.PODIUM_HEARTBEAT_TIMEOUT_S)
    stale = (
        Evaluation.objects.filter(
            state__in=[State.RUNNING_ALGORITHM, State.SCORING], heartbeat_at__lt=stale_before
        )
        .exclude(state=State.SCORING, worker="")
        .values_list("id", flat=True)
    )
    for evaluation_id in list(stale):
        outcome = _reap_stale(evaluation_id, stale_before)
        if outcome:
            counts[outcome] += 1
    resend_before = now - timedelta(seconds=settings.PODIUM_REQUEUE_QUEUED_AFTER_S)
    # An upload being checked stays ``validating``: it is sent again only once its checker
    # went silent too, or a second worker would check it at the same time.
    waiting = Evaluation.objects.filter(
        Q(state=State.QUEUED) | Q(state=State.SCORING, worker="")
        | Q(state=State.VALIDATING, worker="")
        | Q(state=State.VALIDATING, heartbeat_at__lt=stale_before),
        enqueued_at__lt=resend_before,
    ).values_list("id", flat=True)
    for evaluation_id in list(waiting):
        with transaction.atomic():
            updated = Evaluation.objects.filter(
                pk=evaluation_id, enqueued_at__lt=resend_before
            ).update(enqueued_at=now)
            if updated:
                evaluation = Evaluation.objects.select_related("submission").get(pk=evaluation_id)
                transaction.on_commit(lambda evaluation=evaluation: enqueue(evaluation),
                                      robust=True)
                counts["resent"] += 1
    counts.update({f"imports_{name}": n for name, n in import_jobs.reap().items()})
    if any(counts.values()):
        log.warning("reaper: %s", counts)
    return counts


def _reap_stale(evaluation_id, stale_before) -> str | None:
    with transaction.atomic():
        evaluation = Evaluation.objects.select_for_update().get(pk=evaluation_id)
        if evaluation.is_terminal or evaluation.heartbeat_at >= stale_before:
            return None  # moved on since we looked
        note = (f"worker {evaluation.worker or '?'} went silent in state {evaluation.state} "
                f"(attempt {evaluation.attempts})\n")
        try:
            if evaluation.attempts >= settings.PODIUM_MAX_ATTEMPTS:
                transition(
                    evaluation_id,
                    State.FAILED,
                    participant_message=internal_error_message(
                        evaluation.submission.phase.task.challenge, WORKER_STOPPED,
                        f"Its worker stopped responding {evaluation.attempts} times."),
                    organizer_log=evaluation.organizer_log + note,
                )
                return "failed"
            requeued = transition(evaluation_id, State.QUEUED, worker="",
                                  organizer_log=evaluation.organizer_log + note)
        except InvalidTransition:
            return None
        transaction.on_commit(lambda: enqueue(requeued), robust=True)
        return "requeued"
