"""Celery tasks: thin wrappers that take ids and call a service."""

from celery import shared_task

from .services import algorithm, reaper, scoring

_RELIABLE = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="evaluation.score", bind=True, **_RELIABLE)
def score_evaluation(self, *, evaluation_id: str) -> None:
    scoring.score(evaluation_id, worker=self.request.hostname or "worker")


@shared_task(name="evaluation.run_algorithm", bind=True, **_RELIABLE)
def run_algorithm(self, *, evaluation_id: str) -> None:
    algorithm.run(evaluation_id, worker=self.request.hostname or "worker")


@shared_task(name="evaluation.reap", **_RELIABLE)
def reap() -> None:
    reaper.reap()
