"""Celery tasks: thin wrappers that take ids and call a service."""

import logging

from celery import shared_task
from celery.signals import worker_ready

from .runners import gpu_index_from_env
from .services import algorithm, reaper, scoring

log = logging.getLogger(__name__)

_RELIABLE = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="evaluation.score", bind=True, **_RELIABLE)
def score_evaluation(self, *, evaluation_id: str) -> None:
    scoring.score(evaluation_id, worker=self.request.hostname or "worker")


@shared_task(name="evaluation.score_shard", bind=True, **_RELIABLE)
def score_shard(self, *, evaluation_id: str, attempt: int, shard: int) -> None:
    scoring.score_shard(evaluation_id, attempt=attempt, shard=shard,
                        worker=self.request.hostname or "worker")


@shared_task(name="evaluation.run_algorithm", bind=True, **_RELIABLE)
def run_algorithm(self, *, evaluation_id: str) -> None:
    algorithm.run(evaluation_id, worker=self.request.hostname or "worker")


@shared_task(name="evaluation.reap", **_RELIABLE)
def reap() -> None:
    reaper.reap()


@worker_ready.connect
def remove_engine_leftovers(**kwargs) -> None:
    """A GPU worker (one per GPU, PODIUM_GPU_INDEX set) owns its containers' name prefix, so at
    start it removes whatever a killed predecessor left behind."""
    if gpu_index_from_env() is None:
        return
    try:
        removed = algorithm.runner().remove_leftovers()
    except Exception:
        log.exception("could not remove leftover containers")
        return
    if removed:
        log.warning("removed leftover containers and volumes: %s", ", ".join(removed))
