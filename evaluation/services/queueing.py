"""Sending evaluations to the right Celery queue (routes are in podium/celery.py).

``current_app`` is the project's Celery app, loaded with the settings in every process; the
apps never import the project package above them."""

from celery import current_app

from .. import task_names
from ..models import Evaluation, Phase, State


def enqueue(evaluation: Evaluation) -> None:
    """Send the evaluation's next step to its queue (call it inside ``transaction.on_commit``)."""
    if evaluation.state == State.VALIDATING:
        name = task_names.VALIDATE
    elif evaluation.submission.kind == Phase.ALGORITHM and evaluation.state == State.QUEUED:
        name = task_names.RUN_ALGORITHM
    else:
        name = task_names.SCORE
    current_app.send_task(name, kwargs={"evaluation_id": str(evaluation.id)})
