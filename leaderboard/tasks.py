"""Celery tasks of the leaderboard: thin wrappers around services."""

from celery import shared_task

from . import services


@shared_task(name="leaderboard.refresh", acks_late=True, reject_on_worker_lost=True)
def refresh(*, phase_id: str) -> None:
    services.refresh(phase_id)
