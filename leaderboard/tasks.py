"""Celery tasks of the leaderboard: thin wrappers around services.

A phase or challenge deleted while its refresh waited has nothing left to rank: the task ends.
"""

import logging

from celery import shared_task

from challenges.models import Challenge, Phase
from evaluation.services import periodic
from evaluation.services.faults import TRANSIENT

from . import services, task_names

log = logging.getLogger(__name__)


@shared_task(name=task_names.REFRESH, acks_late=True, reject_on_worker_lost=True)
def refresh(*, phase_id: str) -> None:
    try:
        services.refresh(phase_id)
    except Phase.DoesNotExist:
        log.info("phase %s no longer exists; no leaderboard to refresh", phase_id)


@shared_task(name=task_names.REFRESH_CHALLENGE, acks_late=True, reject_on_worker_lost=True)
def refresh_challenge(*, challenge_id: str) -> None:
    try:
        services.refresh_challenge(challenge_id)
    except Challenge.DoesNotExist:
        log.info("challenge %s no longer exists; no overall ranking to refresh", challenge_id)


@shared_task(name=task_names.HEAL, acks_late=True, reject_on_worker_lost=True,
             time_limit=periodic.TIME_LIMIT_S, autoretry_for=TRANSIENT, retry_backoff=True,
             retry_backoff_max=60, max_retries=5)
def heal() -> None:
    """The periodic healer (Celery beat): one pass at a time, however many schedulers."""
    periodic.run_once("leaderboard-healer", services.heal)
