"""Sending evaluations to the right Celery queue (routes are in podium/celery.py)."""

from podium.celery import app

from ..models import Evaluation, Phase, State

SCORE_TASK = "evaluation.score"
RUN_ALGORITHM_TASK = "evaluation.run_algorithm"


def enqueue(evaluation: Evaluation) -> None:
    """Send the evaluation's next step to its queue (call it inside ``transaction.on_commit``)."""
    needs_run = (
        evaluation.submission.kind == Phase.ALGORITHM and evaluation.state == State.QUEUED
    )
    app.send_task(
        RUN_ALGORITHM_TASK if needs_run else SCORE_TASK,
        kwargs={"evaluation_id": str(evaluation.id)},
    )
