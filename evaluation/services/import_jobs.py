"""Task imports started in the console: an organizer's uploaded archive, imported by a worker
with :func:`evaluation.services.importing.import_task` — the code ``import_msd_task`` runs —
while the job row records its progress for the page that watches it."""

import logging
import tempfile
import time
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import PodiumError
from core.storage import local_path, private_storage

from .. import task_names
from ..models import ImportJob
from .importing import ImportResult, import_task

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.5
"""The job row is written at most this often while the importer reports (one line a case)."""


def queue_import(job: ImportJob) -> None:
    """Send the job to a worker once the transaction that created it commits."""
    transaction.on_commit(
        lambda: current_app.send_task(task_names.IMPORT_TASK, kwargs={"job_id": str(job.id)}),
        robust=True,
    )


def run(job_id: str) -> None:
    """Import the job's archive; a job already finished is left alone (a message delivered
    twice), one left running by a dead worker is imported again (the import is idempotent:
    the same labels make no new version)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("challenge").filter(
            pk=job_id).first()
        if job is None or job.is_finished:
            return
        job.state, job.started_at = ImportJob.RUNNING, timezone.now()
        job.save(update_fields=["state", "started_at"])
    report = _Progress(job)
    if not job.file:
        _finish(job, report, error="The uploaded archive is gone; upload it again.")
        return
    report(f"unpacking and checking {job.file_name}")
    try:
        with tempfile.TemporaryDirectory(dir=settings.WORK_DIR) as scratch, \
                local_path(private_storage(), job.file.name, Path(scratch)) as archive:
            result = import_task(archive, challenge_slug=job.challenge.slug, note=job.note,
                                 activate=job.activate, progress=report)
    except PodiumError as exc:
        _finish(job, report, error=str(exc))
    except Exception:
        log.exception("import job %s failed", job.id)
        _finish(job, report, error="The import failed on the server; the worker's log has "
                                   "the details.")
    else:
        _finish(job, report, result=result)


def _finish(job: ImportJob, report: "_Progress", *, result: ImportResult | None = None,
            error: str = "") -> None:
    if result is not None:
        job.task, job.ground_truth, job.phase = result.task, result.ground_truth, result.phase
        job.requeued = result.queued
        job.summary = "\n".join([summary(result), *result.notes])
    job.state = ImportJob.FAILED if error else ImportJob.SUCCEEDED
    job.error, job.finished_at = error, timezone.now()
    report.flush()
    job.progress = report.text
    job.save()
    if job.file:
        job.file.delete(save=True)  # the labels are stored; the archive is no longer needed


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
    at most every :data:`PROGRESS_INTERVAL_S`."""

    def __init__(self, job: ImportJob):
        self.job_id = job.id
        self.lines = [line for line in job.progress.splitlines() if line]
        self.written_at = 0.0

    def __call__(self, message: str) -> None:
        self.lines.append(message)
        if time.monotonic() - self.written_at >= PROGRESS_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        ImportJob.objects.filter(pk=self.job_id).update(progress=self.text)
        self.written_at = time.monotonic()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)
