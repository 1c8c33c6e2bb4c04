"""Celery tasks: thin wrappers that take ids and call a service."""

import logging

from celery import shared_task
from celery.signals import worker_ready

from . import notifications, task_names
from .services import algorithm, import_jobs, periodic, reaper, scoring, validation
from .services.faults import TRANSIENT

log = logging.getLogger(__name__)

_RELIABLE = {"acks_late": True, "reject_on_worker_lost": True}
# The reaper pass only re-derives state, so a transient fault retries it as a whole (a mail
# could go out twice, so mails are not retried); scoring retries inside the service, where it
# resumes its shard.
_PERIODIC = {**_RELIABLE, "time_limit": periodic.TIME_LIMIT_S}
_RETRIED = {**_PERIODIC, "autoretry_for": TRANSIENT, "retry_backoff": True,
            "retry_backoff_max": 60, "max_retries": 5}


@shared_task(name=task_names.VALIDATE, bind=True, **_RELIABLE)
def validate_upload(self, *, evaluation_id: str) -> None:
    validation.validate(evaluation_id, worker=self.request.hostname or "worker")


@shared_task(name=task_names.SCORE, bind=True, **_RELIABLE)
def score_evaluation(self, *, evaluation_id: str) -> None:
    scoring.score(evaluation_id, worker=self.request.hostname or "worker")


@shared_task(name=task_names.SCORE_SHARD, bind=True, **_RELIABLE)
def score_shard(self, *, evaluation_id: str, lease: int, shard: int) -> None:
    scoring.score_shard(evaluation_id, lease=lease, shard=shard,
                        worker=self.request.hostname or "worker")


@shared_task(name=task_names.RUN_ALGORITHM, bind=True, **_RELIABLE)
def run_algorithm(self, *, evaluation_id: str) -> None:
    algorithm.run(evaluation_id, worker=self.request.hostname or "worker")


@shared_task(name=task_names.REAP, **_RETRIED)
def reap() -> None:
    periodic.run_once("reaper", reaper.reap)


@shared_task(name=task_names.NOTIFY_FINISHED, **_RELIABLE)
def notify_finished(*, evaluation_id: str) -> None:
    notifications.send_finished(evaluation_id)


@shared_task(name=task_names.SEND_DIGESTS, **_PERIODIC)
def send_digests() -> None:
    periodic.run_once("digests", notifications.send_digests)


@shared_task(name=task_names.IMPORT_TASK, bind=True, **_RELIABLE)
def import_task(self, *, job_id: str) -> None:
    import_jobs.run(job_id, worker=self.request.hostname or "worker")


@worker_ready.connect
def remove_engine_leftovers(sender=None, **kwargs) -> None:
    """A worker serving the ``gpu`` queue owns its containers' name prefix (its GPU index, or
    PODIUM_RUNNER_NAME_PREFIX), so at start it removes what a killed predecessor left behind;
    not the runs still in flight, which a predecessor in a warm shutdown (a deploy's SIGTERM)
    is finishing under the same prefix."""
    consumed = sender.app.amqp.queues.consume_from if sender is not None else None
    if consumed is not None and "gpu" not in consumed:
        return
    try:
        removed = algorithm.runner().remove_leftovers(keep=algorithm.runs_in_flight())
    except Exception as exc:  # no engine here: nothing can have been left behind
        log.info("no container engine to clean up (%s)", exc)
        return
    if removed:
        log.warning("removed leftover containers and volumes: %s", ", ".join(removed))
