"""Task imports that nobody would finish: a job whose message was lost is sent again, one whose
worker was killed is queued again and finished by another worker (never imported by two at
once), one whose workers keep dying fails with a message on its console page, and a worker
that lost its job's lease writes nothing. Real Celery worker processes, a real archive; the
reaper pass is the one the workers run (:func:`evaluation.services.reaper.reap`).

Marked ``stack``: runs on the embedded default and again on PostgreSQL + Redis.
"""

import os
import re
import tarfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files import File
from django.test import Client
from django.utils import timezone

from challenges.models import Challenge, Task
from core.storage import private_storage
from evaluation import task_names
from evaluation.models import ImportJob
from evaluation.services import import_jobs, reaper
from podium.celery import app
from tests import factories
from tests.conftest import WorkerProcess, wait_for

from .test_import import finished, tar_of, upload

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

TRAINING_IMAGE_MIB = 256
"""Unpacking this much (an MSD archive's training images) keeps a worker busy for seconds:
long enough to kill it in the middle of the import."""


@pytest.fixture
def organizer_client() -> tuple[Challenge, Client]:
    challenge = Challenge.objects.create(slug="reaped-imports", title="Reaped imports")
    organizer = factories.user("reaped-organizer")
    organizer.is_staff = True
    organizer.save()
    challenge.organizers.add(organizer)
    client = Client()
    client.force_login(organizer)
    return challenge, client


def stored_job(challenge: Challenge, archive: Path, **fields) -> ImportJob:
    """A job as the console's form stores it, its archive in private storage; not sent."""
    job = ImportJob.objects.create(challenge=challenge, file_name=archive.name, **fields)
    with open(archive, "rb") as fh:
        job.file.save("archive", File(fh), save=True)
    return job


def big_archive(tmp_path: Path) -> Path:
    folder = factories.write_cube_task(tmp_path / "big")
    (folder / "imagesTr").mkdir()
    block = os.urandom(1024 * 1024)
    with open(folder / "imagesTr" / "cube_100.nii.gz", "wb") as fh:
        for _ in range(TRAINING_IMAGE_MIB):
            fh.write(block)
    path = tmp_path / "Task09_Cubes.tar"
    with tarfile.open(path, "w") as archive:
        archive.add(folder, arcname=folder.name)
    return path


def age(job: ImportJob, field: str, seconds: int) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        **{field: timezone.now() - timedelta(seconds=seconds)})


def test_an_import_whose_message_was_lost_is_sent_again(celery_worker, organizer_client,
                                                        tmp_path, settings, monkeypatch):
    challenge, client = organizer_client
    monkeypatch.setattr("evaluation.admin.queue_import", lambda job: None)  # the message is lost
    archive = tar_of(factories.write_cube_task(tmp_path), tmp_path / "Task09_Cubes.tar.gz")
    job = upload(client, challenge, archive)
    settings.PODIUM_REQUEUE_QUEUED_AFTER_S = 600
    assert reaper.reap()["imports_resent"] == 0  # not waiting long enough yet
    age(job, "enqueued_at", 900)
    assert reaper.reap()["imports_resent"] == 1
    body = wait_for(lambda: finished(client, job), timeout=120, what="the resent import")
    assert body["state"] == ImportJob.SUCCEEDED, body
    job.refresh_from_db()
    assert job.attempts == 1 and job.task == Task.objects.get(challenge=challenge)
    assert job.enqueued_at > timezone.now() - timedelta(seconds=600)


def test_a_killed_workers_import_is_finished_by_another_and_never_run_twice(
        celery_worker, organizer_client, tmp_path, settings):
    challenge, client = organizer_client
    job = stored_job(challenge, big_archive(tmp_path))
    doomed_queue = "import-crash-test"  # a queue of its own: no other worker takes the message
    doomed = WorkerProcess("doomed-import", extra_env={"PODIUM_REAPER_INTERVAL_S": "3600"},
                           queues=doomed_queue)
    app.send_task(task_names.IMPORT_TASK, kwargs={"job_id": str(job.id)}, queue=doomed_queue)
    wait_for(lambda: ImportJob.objects.filter(pk=job.pk, state=ImportJob.RUNNING).exists(),
             timeout=120, interval=0.02, what="the doomed worker to start importing")
    doomed.kill()
    stuck = ImportJob.objects.get(pk=job.pk)
    assert stuck.state == ImportJob.RUNNING and stuck.attempts == 1 and stuck.lease == 1
    assert stuck.worker.startswith("doomed-import") and stuck.file

    # A second message while the job's heartbeat is fresh: the other worker leaves it alone.
    app.send_task(task_names.IMPORT_TASK, kwargs={"job_id": str(job.id)})
    wait_for(lambda: f"import job {job.id} is held by worker" in celery_worker.output(),
             timeout=60, what="the second message to be dropped")
    assert ImportJob.objects.filter(pk=job.pk, attempts=1, lease=1,
                                    worker=stuck.worker).exists()
    assert not Task.objects.filter(challenge=challenge).exists()

    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 1
    time.sleep(1.5)
    assert reaper.reap()["imports_requeued"] == 1  # sent to the shared queue
    body = wait_for(lambda: finished(client, job), timeout=180, what="the re-queued import")
    assert body["state"] == ImportJob.SUCCEEDED, body
    job.refresh_from_db()
    assert job.attempts == 2 and job.lease == 3 and job.worker != stuck.worker
    assert f"worker {stuck.worker} went silent (attempt 1); queued again" in job.progress
    assert "(attempt 2)" in job.progress
    assert job.task == Task.objects.get(challenge=challenge, key="Task09_Cubes")
    assert not job.file and not private_storage().listdir(f"imports/{job.id}")[1]


def test_an_import_whose_workers_keep_dying_fails_with_a_message_on_its_page(
        organizer_client, tmp_path, settings):
    challenge, client = organizer_client
    settings.PODIUM_MAX_ATTEMPTS = 2
    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 60
    archive = tar_of(factories.write_cube_task(tmp_path), tmp_path / "Task09_Cubes.tar.gz")
    job = stored_job(challenge, archive, state=ImportJob.RUNNING, attempts=2, lease=2,
                     worker="w2@host", heartbeat_at=timezone.now(), started_at=timezone.now())
    assert reaper.reap()["imports_failed"] == 0  # still beating
    age(job, "heartbeat_at", 120)
    assert reaper.reap()["imports_failed"] == 1
    job.refresh_from_db()
    assert job.state == ImportJob.FAILED and job.error == import_jobs.given_up_message(2)
    assert "stopped responding 2 times" in job.error and "w2@host" not in job.error
    assert "worker w2@host went silent (attempt 2)" in job.progress
    assert not job.file and not private_storage().listdir(f"imports/{job.id}")[1]
    assert finished(client, job)["state"] == ImportJob.FAILED
    page = client.get(f"/admin/evaluation/importjob/{job.id}/change/").content.decode()
    assert "its worker stopped responding 2 times" in page
    assert "upload it again to retry" in page
    assert re.search(r"Attempts:</label>\s*<div class=\"readonly\">2</div>", page)

    # A message the broker delivers again after the last worker died fails the job as well.
    again = stored_job(challenge, archive, state=ImportJob.RUNNING, attempts=2, lease=2,
                       worker="w2@host", started_at=timezone.now() - timedelta(seconds=120))
    import_jobs.run(str(again.id), worker="w3@host")
    again.refresh_from_db()
    assert again.state == ImportJob.FAILED and again.attempts == 2
    assert again.error == import_jobs.given_up_message(2) and not again.file
    assert not Task.objects.filter(challenge=challenge).exists()


def test_a_worker_that_lost_the_lease_writes_nothing(organizer_client, tmp_path, settings,
                                                    monkeypatch):
    challenge, _ = organizer_client
    sent = []  # the re-queued job's message is held back: no worker of the session takes it
    monkeypatch.setattr(import_jobs, "queue_import", sent.append)
    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 60
    archive = tar_of(factories.write_cube_task(tmp_path), tmp_path / "Task09_Cubes.tar.gz")
    job = stored_job(challenge, archive)
    first = import_jobs._claim(str(job.id), "first@host")
    assert (first.state, first.attempts, first.lease) == (ImportJob.RUNNING, 1, 1)
    assert import_jobs._claim(str(job.id), "second@host") is None  # first still beats
    age(job, "heartbeat_at", 120)
    assert reaper.reap()["imports_requeued"] == 1 and [j.pk for j in sent] == [job.pk]

    report = import_jobs._Progress(first)
    with pytest.raises(import_jobs.LeaseLost):
        report("checked case cube_000 (1/2)")
    import_jobs._finish(first, report, error="the first worker's late outcome")
    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 0.5  # the thread beats every 0.1 s
    with import_jobs._Heartbeat(first) as beat:
        assert beat.lost.wait(timeout=10)
    job.refresh_from_db()
    assert (job.state, job.lease, job.worker, job.error) == (ImportJob.QUEUED, 2, "", "")
    assert job.file and private_storage().exists(job.file.name)  # the archive is kept

    second = import_jobs._claim(str(job.id), "second@host")
    assert (second.attempts, second.lease, second.worker) == (2, 3, "second@host")
    with import_jobs._Heartbeat(second) as beat:  # the holder's beats are recorded
        wait_for(lambda: ImportJob.objects.get(pk=job.pk).heartbeat_at > second.heartbeat_at,
                 timeout=10, what="a heartbeat")
        assert not beat.lost.is_set()
