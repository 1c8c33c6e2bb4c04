"""Task imports started in the console: an organizer's uploaded archive, imported by a worker
with :func:`evaluation.services.importing.import_task` — the code ``import_msd_task`` runs —
while the job row records its progress for the page that watches it. An archive holding a DICOM
collection (manifest.csv, DICOM files, no dataset.json) is converted first
(:func:`.dicom_import.import_upload`, the code of ``import_dicom_collection``).

A job lives as evaluations do (:mod:`.reaper`): a worker claims it (one attempt, a new lease)
and a thread beats for it while it imports; a job whose message was lost is sent again, one
whose worker went silent is queued again, and failed after PODIUM_MAX_ATTEMPTS attempts with a
message on its console page. Only the worker holding the current lease writes to the job or
removes its archive, and a job whose worker still beats is never claimed by another, so one
import never runs twice at the same time.
"""

import logging
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import PodiumError
from core.storage import local_path, private_storage

from .. import task_names
from ..models import ImportJob
from .dicom_import import import_upload
from .importing import ImportResult

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.5
"""The job row is written at most this often while the importer reports (one line a case)."""

BEATS_PER_TIMEOUT = 5
"""The heartbeat thread beats this many times within PODIUM_HEARTBEAT_TIMEOUT_S: unpacking or
storing a large archive reports nothing for minutes, yet its worker is alive."""


class LeaseLost(Exception):
    """The job was taken away from this worker (re-queued by the reaper, or given up)."""


def queue_import(job: ImportJob) -> None:
    """Send the job to a worker once the transaction that created it commits."""
    job_id = str(job.id)
    transaction.on_commit(
        lambda: current_app.send_task(task_names.IMPORT_TASK, kwargs={"job_id": job_id}),
        robust=True,
    )


def run(job_id: str, *, worker: str) -> None:
    """Import the job's archive, if it is still waiting for a worker (or its worker went
    silent); a message delivered twice finds nothing to do. Importing again after a dead
    worker is safe: the same labels make no new ground-truth version."""
    job = _claim(job_id, worker)
    if job is None:
        return
    report = _Progress(job)
    if not job.file:
        _finish(job, report, error="The uploaded archive is gone; upload it again.")
        return
    try:
        report(f"unpacking and checking {job.file_name}"
               + (f" (attempt {job.attempts})" if job.attempts > 1 else ""))
        with _Heartbeat(job) as beat, \
                tempfile.TemporaryDirectory(dir=settings.WORK_DIR) as scratch, \
                local_path(private_storage(), job.file.name, Path(scratch)) as archive:
            report.beat = beat
            result = import_upload(archive, challenge_slug=job.challenge.slug,
                                   note=job.note, activate=job.activate, progress=report,
                                   imported_by=job.user, name=job.file_name,
                                   deidentify=job.deidentify)
    except LeaseLost:
        log.warning("import job %s: lease %s lost to the reaper; this worker stops",
                    job.id, job.lease)
    except PodiumError as exc:
        _finish(job, report, error=str(exc))
    except Exception:
        log.exception("import job %s failed", job.id)
        _finish(job, report, error="The import failed on the server; the worker's log has "
                                   "the details.")
    else:
        _finish(job, report, result=result)


def reap() -> dict[str, int]:
    """The reaper's pass over task imports (called by :func:`.reaper.reap`): how many jobs
    were re-queued, failed and sent again."""
    now = timezone.now()
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    stale_before = now - timedelta(seconds=settings.PODIUM_HEARTBEAT_TIMEOUT_S)
    # A job left running before jobs had heartbeats counts from when it started.
    silent = ImportJob.objects.filter(
        Q(heartbeat_at__lt=stale_before)
        | Q(heartbeat_at__isnull=True, started_at__lt=stale_before), state=ImportJob.RUNNING)
    for job_id in list(silent.values_list("id", flat=True)):
        outcome = _reap_silent(job_id, stale_before)
        if outcome:
            counts[outcome] += 1
    resend_before = now - timedelta(seconds=settings.PODIUM_REQUEUE_QUEUED_AFTER_S)
    waiting = ImportJob.objects.filter(state=ImportJob.QUEUED, enqueued_at__lt=resend_before)
    for job in list(waiting.only("id")):
        with transaction.atomic():
            if ImportJob.objects.filter(pk=job.pk, state=ImportJob.QUEUED,
                                        enqueued_at__lt=resend_before).update(enqueued_at=now):
                queue_import(job)
                counts["resent"] += 1
    return counts


def given_up_message(attempts: int) -> str:
    """What the organizer reads on the job's page when the reaper gave the import up."""
    return (f"The import was given up: its worker stopped responding {attempts} times (a "
            "worker that runs out of memory or disk stops this way; the worker's log says "
            "more). The uploaded archive is removed; upload it again to retry.")


def _claim(job_id: str, worker: str) -> ImportJob | None:
    """Count an attempt on a waiting job and take a new lease; None when there is nothing to
    import: the job is gone or finished, or another worker is importing it and beats."""
    now = timezone.now()
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("challenge").filter(
            pk=job_id).first()
        if job is None or job.is_finished:
            return None
        if job.state == ImportJob.RUNNING and not _silent(job, now):
            log.info("import job %s is held by worker %s (lease %s); this message is dropped",
                     job.id, job.worker, job.lease)
            return None
        if job.attempts >= settings.PODIUM_MAX_ATTEMPTS:
            _give_up(job, f"worker {job.worker or '?'} went silent (attempt {job.attempts})")
            return None
        job.attempts += 1
        job.lease += 1
        job.state, job.worker = ImportJob.RUNNING, worker
        job.heartbeat_at = now
        job.started_at = job.started_at or now
        job.save(update_fields=["attempts", "lease", "state", "worker", "heartbeat_at",
                                "started_at"])
    return job


def _silent(job: ImportJob, now) -> bool:
    alive_at = job.heartbeat_at or job.started_at
    return alive_at is None or alive_at < now - timedelta(
        seconds=settings.PODIUM_HEARTBEAT_TIMEOUT_S)


def _reap_silent(job_id, stale_before) -> str | None:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state != ImportJob.RUNNING or \
                (job.heartbeat_at or job.started_at) >= stale_before:
            return None  # moved on since we looked
        note = f"worker {job.worker or '?'} went silent (attempt {job.attempts})"
        if job.attempts >= settings.PODIUM_MAX_ATTEMPTS:
            _give_up(job, note)
            return "failed"
        # A new lease at once: the silent worker, should it come back, can no longer write.
        job.lease += 1
        job.state, job.worker, job.enqueued_at = ImportJob.QUEUED, "", timezone.now()
        job.progress = _with_line(job.progress, f"{note}; queued again")
        job.save(update_fields=["lease", "state", "worker", "enqueued_at", "progress"])
        queue_import(job)
        return "requeued"


def _give_up(job: ImportJob, note: str) -> None:
    """Fail a job (locked by the caller) whose workers stopped too often; its archive goes."""
    log.warning("import job %s given up after %s attempts: %s", job.id, job.attempts, note)
    job.lease += 1
    job.state, job.finished_at = ImportJob.FAILED, timezone.now()
    job.error = given_up_message(job.attempts)
    job.progress = _with_line(job.progress, note)
    if job.file:
        job.file.delete(save=False)
    job.save(update_fields=["lease", "state", "finished_at", "error", "progress", "file"])


def _with_line(text: str, line: str) -> str:
    return f"{text}\n{line}" if text else line


def _finish(job: ImportJob, report: "_Progress", *, result: ImportResult | None = None,
            error: str = "") -> None:
    """Record the outcome, if this worker still holds the job's lease, and remove the archive
    (the labels are stored, or the import failed for good): a finished job has none."""
    with transaction.atomic():
        if not ImportJob.objects.select_for_update().filter(
                pk=job.pk, state=ImportJob.RUNNING, lease=job.lease).exists():
            log.warning("import job %s: lease %s lost; its outcome is dropped", job.id,
                        job.lease)
            return
        if result is not None:
            job.task, job.ground_truth, job.phase = result.task, result.ground_truth, \
                result.phase
            job.requeued = result.queued
            job.summary = "\n".join([summary(result), *result.notes])
        job.state = ImportJob.FAILED if error else ImportJob.SUCCEEDED
        job.error, job.finished_at = error, timezone.now()
        job.progress = report.text
        if job.file:
            job.file.delete(save=False)
        job.save()


def summary(result: ImportResult) -> str:
    """What the import did, in the words ``import_msd_task`` prints."""
    gt = result.ground_truth
    lines = [
        f"task {result.task.key} ({len(result.task.cases)} test cases): "
        f"{'created' if result.task_created else 'unchanged'}",
        f"ground truth v{gt.version} ({gt.content_sha256[:12]}): "
        f"{'created' if result.ground_truth_created else 'unchanged'}",
        f"phase {result.phase.name}: scores against "
        f"v{result.phase.active_ground_truth.version if result.phase.active_ground_truth else '—'}",
    ]
    if result.queued:
        lines.append(f"{result.queued} evaluations queued against v{gt.version}")
    return "\n".join(lines)


class _Progress:
    """The importer's progress callback: appends a line, and writes the lines to the job row
    (with a heartbeat) at most every :data:`PROGRESS_INTERVAL_S`. Raises :class:`LeaseLost`
    once the job is no longer this worker's, which stops the import at its next step."""

    def __init__(self, job: ImportJob):
        self.job_id, self.lease = job.id, job.lease
        self.lines = [line for line in job.progress.splitlines() if line]
        self.written_at = 0.0
        self.beat: _Heartbeat | None = None

    def __call__(self, message: str) -> None:
        self.lines.append(message)
        if self.beat is not None and self.beat.lost.is_set():
            raise LeaseLost(self.job_id)
        if time.monotonic() - self.written_at >= PROGRESS_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if not ImportJob.objects.filter(
                pk=self.job_id, state=ImportJob.RUNNING, lease=self.lease).update(
                progress=self.text, heartbeat_at=timezone.now()):
            raise LeaseLost(self.job_id)
        self.written_at = time.monotonic()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class _Heartbeat:
    """A thread that records, :data:`BEATS_PER_TIMEOUT` times per heartbeat timeout, that the
    worker holding the job's lease is alive, for as long as the ``with`` block runs; it sets
    :attr:`lost` when the job was taken away from this worker."""

    def __init__(self, job: ImportJob):
        self.job_id, self.lease = job.id, job.lease
        self.interval = settings.PODIUM_HEARTBEAT_TIMEOUT_S / BEATS_PER_TIMEOUT
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"import-{job.id}-heartbeat",
                                        daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    held = ImportJob.objects.filter(
                        pk=self.job_id, state=ImportJob.RUNNING, lease=self.lease
                    ).update(heartbeat_at=timezone.now())
                except Exception:  # the database did not answer this time: beat again later
                    log.warning("import job %s: heartbeat not recorded", self.job_id,
                                exc_info=True)
                    continue
                if not held:
                    self.lost.set()
                    return
        finally:
            connection.close()  # this thread's own connection
