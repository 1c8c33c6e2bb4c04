"""Sending evaluations to the right Celery queue (routes are in podium/celery.py)."""

from podium.celery import app

from ..models import Evaluation, Phase, State

SCORE_TASK = "evaluation.score"
RUN_ALGORITHM_TASK = "evaluation.run_algorithm"
VALIDATE_TASK = "evaluation.validate"


def enqueue(evaluation: Evaluation) -> None:
    """Send the evaluation's next step to its queue (call it inside ``transaction.on_commit``)."""
    if evaluation.state == State.VALIDATING:
        name = VALIDATE_TASK
    elif evaluation.submission.kind == Phase.ALGORITHM and evaluation.state == State.QUEUED:
        name = RUN_ALGORITHM_TASK
    else:
        name = SCORE_TASK
    app.send_task(name, kwargs={"evaluation_id": str(evaluation.id)})
