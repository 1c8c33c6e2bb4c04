"""Celery tasks: thin wrappers that take ids and call a service."""

from celery import shared_task

from . import notifications, task_names


@shared_task(name=task_names.NOTIFY_PENDING, acks_late=True, reject_on_worker_lost=True)
def notify_pending(*, participation_id: str) -> None:
    notifications.send_pending(participation_id)
